"""The client's one closed set of errors, mapped from the status codes and error reasons the proto
documents (proto/rekey/v1/*.proto), exactly as the Rust client's `Error` (crates/rekey-client/
src/error.rs). Every error keeps the server's message, written for the caller and never carrying
key bytes or plaintext, and the gRPC code name it came from (None for client-side errors).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import grpc

__all__ = [
    "AuthenticationFailedError",
    "ConfigError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidCiphertextError",
    "KeyNotFoundError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RekeyError",
    "TooLargeError",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "VersionRetiredError",
]


class RekeyError(Exception):
    """Base of every error the client raises. Catch a subclass to handle one case; the set is
    closed (one subclass per variant of the Rust client's `Error`)."""

    #: What `str()` puts before the message, as the Rust client's Display does.
    label = "rekey error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The gRPC status code name (e.g. "NOT_FOUND"), None for errors raised by the client.
        self.code = code

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, code={self.code!r})"

    @property
    def is_transient(self) -> bool:
        """Whether sending the same request again may succeed (for idempotent calls)."""
        return isinstance(self, (UnavailableError, DeadlineExceededError))


class KeyNotFoundError(RekeyError):
    """The key, or the key version a value names, does not exist on this server (NOT_FOUND)."""

    label = "key not found"


class VersionRetiredError(RekeyError):
    """The key version a value names is retired and refuses every operation
    (FAILED_PRECONDITION)."""

    label = "key version retired"


class InvalidCiphertextError(RekeyError):
    """The value is not a well-formed Rekey value of the expected kind (truncated, not Rekey's, a
    signature where a ciphertext was expected, another key's envelope, ...)."""

    label = "invalid ciphertext"


class AuthenticationFailedError(RekeyError):
    """The value was modified, or the associated data differs from the one used to encrypt it."""

    label = "authentication failed"


class InvalidArgumentError(RekeyError):
    """The request itself is wrong (INVALID_ARGUMENT): change it, do not retry it unchanged."""

    label = "invalid argument"


class FailedPreconditionError(RekeyError):
    """The request is refused in the key's or event's current state (FAILED_PRECONDITION)."""

    label = "failed precondition"


class NotFoundError(RekeyError):
    """Something other than a key (a rotation event, a token) does not exist (NOT_FOUND)."""

    label = "not found"


class PermissionDeniedError(RekeyError):
    """The token is valid but not allowed to do this (PERMISSION_DENIED)."""

    label = "permission denied"


class UnauthenticatedError(RekeyError):
    """Missing, unknown, expired or revoked token (UNAUTHENTICATED)."""

    label = "unauthenticated"


class RateLimitedError(RekeyError):
    """Too many failed authentications from this address (RESOURCE_EXHAUSTED from the auth
    limiter); `retry_after` is the server's hint in seconds when it gave one."""

    label = "rate limited"

    def __init__(self, message: str, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code)
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"RateLimitedError(message={self.message!r}, code={self.code!r}, retry_after={self.retry_after!r})"


class UnavailableError(RekeyError):
    """The server is unreachable, shutting down, or its database is (UNAVAILABLE), after the
    retries the call was allowed."""

    label = "unavailable"


class DeadlineExceededError(RekeyError):
    """The call's deadline passed (per attempt or overall)."""

    label = "deadline exceeded"


class TooLargeError(RekeyError):
    """The request is larger than the server accepts (RESOURCE_EXHAUSTED / OUT_OF_RANGE)."""

    label = "too large"


class InternalError(RekeyError):
    """A server bug or damaged keystore (INTERNAL and codes the API never documents). Report it."""

    label = "internal error"


class ConfigError(RekeyError):
    """The client's own configuration is wrong (address, token file, certificates)."""

    label = "client configuration"


class TransportError(RekeyError):
    """The connection failed in a way gRPC reports without a documented status."""

    label = "transport"


class Input(enum.Enum):
    """What the call sent, which decides how an ambiguous status reads: INVALID_ARGUMENT on a call
    that carried a ciphertext or signature is about that value."""

    VALUE = "value"  # Decrypt, Rewrap, Verify
    OTHER = "other"


# The server's message markers, for statuses without a reason (src/keystore/error.rs,
# src/auth/authenticator).
_AUTH_FAILED = "ciphertext failed authentication"
_RATE_LIMITED = "too many failed authentication attempts"
#: tonic's message for an expired grpc-timeout, sent with CANCELLED (as error.rs).
_TIMEOUT_EXPIRED = "Timeout expired"
_RETIRED = "is retired and can no longer be used"
_RETRY_HINT = re.compile(r"retry in (\d+)")

#: The metadata entry in which the server names the `rekey.v1.ErrorReason` of every error.
REASON_HEADER = "rekey-error-reason"

_BY_REASON: dict[str, type[RekeyError]] = {
    "ERROR_REASON_UNSPECIFIED": InternalError,
    "ERROR_REASON_INVALID_ARGUMENT": InvalidArgumentError,
    "ERROR_REASON_KEY_NOT_FOUND": KeyNotFoundError,
    "ERROR_REASON_VERSION_NOT_FOUND": KeyNotFoundError,
    "ERROR_REASON_VERSION_RETIRED": VersionRetiredError,
    "ERROR_REASON_WRONG_PURPOSE": FailedPreconditionError,
    "ERROR_REASON_ROTATION_REFUSED": FailedPreconditionError,
    "ERROR_REASON_EVENT_STATE": FailedPreconditionError,
    "ERROR_REASON_INVALID_VALUE": InvalidCiphertextError,
    "ERROR_REASON_AUTHENTICATION_FAILED": AuthenticationFailedError,
    "ERROR_REASON_TOO_LARGE": TooLargeError,
    "ERROR_REASON_EVENT_NOT_FOUND": NotFoundError,
    "ERROR_REASON_TOKEN_NOT_FOUND": NotFoundError,
    "ERROR_REASON_UNAUTHENTICATED": UnauthenticatedError,
    "ERROR_REASON_PERMISSION_DENIED": PermissionDeniedError,
    "ERROR_REASON_RATE_LIMITED": RateLimitedError,
    "ERROR_REASON_UNAVAILABLE": UnavailableError,
    "ERROR_REASON_INTERNAL": InternalError,
}


def _retry_hint(message: str) -> float | None:
    """Reads "retry in N s" from the auth limiter's message."""
    match = _RETRY_HINT.search(message)
    return float(match.group(1)) if match else None


Metadata = Iterable[tuple[str, "str | bytes"]]


def _metadata_value(metadata: Metadata | None, name: str) -> str | None:
    for key, value in metadata or ():
        if key == name:
            return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    return None


def from_status(
    code: grpc.StatusCode,
    message: str,
    trailing_metadata: Metadata | None,
    input: Input,
) -> RekeyError:
    """Maps a gRPC status by the reason the server attaches (`rekey-error-reason`); a status
    without one (from a proxy, from grpc itself, or a reason newer than this client) by its code,
    reading the message only to split codes the proto documents as shared."""
    name = code.name
    reason = _metadata_value(trailing_metadata, REASON_HEADER)
    cls = _BY_REASON.get(reason.strip()) if reason else None
    if cls is RateLimitedError:
        header = _metadata_value(trailing_metadata, "retry-after")
        hinted = header is not None and header.strip().isdigit()
        retry_after = float(header.strip()) if header is not None and hinted else _retry_hint(message)
        return RateLimitedError(message, name, retry_after)
    if cls is not None:
        return cls(message, name)
    return _from_code(code, message, input)


def _from_code(code: grpc.StatusCode, message: str, input: Input) -> RekeyError:
    name = code.name
    S = grpc.StatusCode
    if code == S.NOT_FOUND:
        if message.startswith(("key ", "version ")):
            return KeyNotFoundError(message, name)
        return NotFoundError(message, name)
    if code == S.FAILED_PRECONDITION:
        if _RETIRED in message:
            return VersionRetiredError(message, name)
        return FailedPreconditionError(message, name)
    if code == S.INVALID_ARGUMENT:
        if message.startswith(_AUTH_FAILED):
            return AuthenticationFailedError(message, name)
        if input is Input.VALUE:
            return InvalidCiphertextError(message, name)
        return InvalidArgumentError(message, name)
    if code == S.CANCELLED and message == _TIMEOUT_EXPIRED:
        # A grpc-timeout that expired on the server (tonic answers CANCELLED "Timeout
        # expired"): a deadline, and as retriable as one.
        return DeadlineExceededError(message, name)
    if code == S.RESOURCE_EXHAUSTED:
        if _RATE_LIMITED in message:
            return RateLimitedError(message, name, _retry_hint(message))
        return TooLargeError(message, name)
    simple: dict[grpc.StatusCode, type[RekeyError]] = {
        S.OUT_OF_RANGE: TooLargeError,
        S.PERMISSION_DENIED: PermissionDeniedError,
        S.UNAUTHENTICATED: UnauthenticatedError,
        S.UNAVAILABLE: UnavailableError,
        S.DEADLINE_EXCEEDED: DeadlineExceededError,
        S.UNKNOWN: TransportError,
        S.CANCELLED: TransportError,
    }
    return simple.get(code, InternalError)(message, name)
