"""When a failed attempt is tried again, and after how long: exponential backoff with full jitter
(a uniformly random wait up to the exponential bound, so clients that failed together do not
come back together), only for rpcs the proto calls safe to retry. As the Rust client's
crates/rekey-client/src/retry.rs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .errors import RateLimitedError, RekeyError

__all__ = ["RetryPolicy"]

_RNG = secrets.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) of
    idempotent rpcs. All attempts stay within the call's overall deadline. Times in seconds."""

    #: Attempts in all, the first included; 1 disables retries.
    max_attempts: int = 4
    #: Upper bound of the wait before the first retry; doubles per retry.
    initial_backoff: float = 0.05
    #: Cap of the upper bound.
    max_backoff: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first attempt: at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times cannot be negative")

    @classmethod
    def none(cls) -> RetryPolicy:
        """No retries at all."""
        return cls(max_attempts=1)

    def bound(self, attempt: int) -> float:
        """The bound of the wait after failed attempt number `attempt` (1-based)."""
        doublings = min(max(attempt - 1, 0), 30)
        return min(self.initial_backoff * (1 << doublings), self.max_backoff)

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt `attempt`: uniform in [0, bound] (full jitter)."""
        return _RNG.uniform(0.0, self.bound(attempt))

    def next_wait(self, error: RekeyError, idempotent: bool, attempt: int, remaining: float) -> float | None:
        """Whether to try again after `error` on attempt `attempt`, and after how long (seconds);
        None to give up. `remaining` is what is left of the overall deadline."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            # The auth limiter refuses before the rpc runs, so nothing was done and any rpc may be
            # sent again once the window is over, if the deadline allows.
            wait = error.retry_after
        elif error.is_transient and idempotent:
            wait = self.backoff(attempt)
        else:
            return None
        return wait if wait < remaining else None
