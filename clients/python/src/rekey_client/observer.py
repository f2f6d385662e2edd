"""A hook for metrics and tests: every rpc attempt and every data-key cache event is reported to
an `Observer` given to the client. Nothing secret is ever passed to it."""

from __future__ import annotations

import enum

from .errors import RekeyError

__all__ = ["CacheEvent", "Observer"]


class CacheEvent(enum.Enum):
    """A data-key cache event of an envelope."""

    #: An encryption used the cached data key.
    ENCRYPT_HIT = "encrypt_hit"
    #: An encryption needed a new data key (one GenerateDataKey call).
    ENCRYPT_MISS = "encrypt_miss"
    #: A decryption found its data key already unwrapped.
    DECRYPT_HIT = "decrypt_hit"
    #: A decryption had to unwrap its data key (one Decrypt call).
    DECRYPT_MISS = "decrypt_miss"
    #: An unwrapped data key left the cache (age, size, forget()).
    EVICTED = "evicted"


class Observer:
    """Receives the client's events; both methods do nothing unless overridden. Called inline
    (from whichever thread or task made the call), so keep them cheap and thread-safe."""

    def on_attempt(self, rpc: str, attempt: int, error: RekeyError | None) -> None:
        """After each attempt of an rpc (`attempt` counts from 1); `error` is None on success."""

    def on_cache(self, key_name: str, event: CacheEvent) -> None:
        """On each data-key cache event of an envelope of key `key_name`."""
