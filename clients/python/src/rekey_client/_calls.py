"""What every call of the sync and the async client shares: the metadata of an attempt (bearer
token, trace context), the deadline arithmetic, turning a grpc error into a typed one, and telling
the observer. The attempt loops themselves are in client.py and aio.py (one blocks, one awaits).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import grpc

from ._rpcs import Rpc
from .config import CallOptions, ClientConfig
from .errors import ConfigError, DeadlineExceededError, Input, RekeyError, TransportError, from_status
from .observer import Observer

try:  # optional: the caller's OpenTelemetry context, when the API is installed
    from opentelemetry import propagate as _otel_propagate

    _HAVE_OTEL = True
except ImportError:  # pragma: no cover - exercised when opentelemetry is absent
    _HAVE_OTEL = False


def current_trace_headers() -> list[tuple[str, str]]:
    """`traceparent` (and `tracestate`) of the current OpenTelemetry span, if opentelemetry-api
    is importable and a span is active; nothing otherwise."""
    if not _HAVE_OTEL:
        return []
    carrier: dict[str, str] = {}
    _otel_propagate.inject(carrier)
    return [(k, v) for k, v in carrier.items() if k in ("traceparent", "tracestate")]


def _header_value(name: str, value: str) -> str:
    if not value or any(not (0x20 <= ord(c) < 0x7F) for c in value):
        raise ConfigError(f"{name} is not a valid header value")
    return value


@dataclass
class CallPlan:
    """One call's settings, resolved from the client's and the call's options."""

    rpc: Rpc[Any, Any]
    idempotent: bool
    metadata: tuple[tuple[str, str], ...]
    attempt_timeout: float
    end: float  # time.monotonic() at which the overall deadline passes

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def timeout_of_next_attempt(self) -> float:
        """The timeout of the next attempt; raises DeadlineExceededError if none is left."""
        remaining = self.remaining()
        if remaining <= 0:
            raise DeadlineExceededError(f"{self.rpc.name} ran out of its deadline")
        return min(self.attempt_timeout, remaining)


def stream_timeout(options: CallOptions | None) -> float | None:
    """The timeout of a streaming call: the smaller of the call's own deadline and attempt
    timeout, or none. The client-wide defaults (10 s, 30 s) are for single requests; a stream
    lasts as long as its data, so it is bounded only when the call says so (as in the Rust and
    TypeScript clients)."""
    options = options or CallOptions()
    limits = [t for t in (options.deadline, options.attempt_timeout) if t is not None]
    return min(limits) if limits else None


def plan(
    config: ClientConfig, bearer: str | None, rpc: Rpc[Any, Any], request: Any, options: CallOptions | None
) -> CallPlan:
    options = options or CallOptions()
    metadata: list[tuple[str, str]] = []
    if bearer is not None:
        metadata.append(("authorization", bearer))
    if options.traceparent is not None:
        metadata.append(("traceparent", _header_value("traceparent", options.traceparent)))
    else:
        metadata.extend(current_trace_headers())
    deadline = options.deadline if options.deadline is not None else config.deadline
    attempt_timeout = options.attempt_timeout if options.attempt_timeout is not None else config.attempt_timeout
    return CallPlan(
        rpc=rpc,
        idempotent=rpc.idempotent(request),
        metadata=tuple(metadata),
        attempt_timeout=attempt_timeout,
        end=time.monotonic() + deadline,
    )


def typed_error(error: BaseException, input: Input) -> RekeyError:
    """The typed error of a failed attempt: a grpc status by its reason or code."""
    if isinstance(error, grpc.RpcError) and isinstance(error, grpc.Call):
        return from_status(error.code(), error.details() or "", error.trailing_metadata(), input)
    if isinstance(error, grpc.aio.AioRpcError):
        return from_status(error.code(), error.details() or "", error.trailing_metadata(), input)
    if isinstance(error, grpc.RpcError):
        return TransportError(str(error) or type(error).__name__)
    raise error


def report(observer: Observer | None, rpc: Rpc[Any, Any], attempt: int, error: RekeyError | None) -> None:
    if observer is not None:
        observer.on_attempt(rpc.name, attempt, error)
