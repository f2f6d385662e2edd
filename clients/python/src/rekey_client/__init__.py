"""Python client for Rekey.

- `Client` (blocking, grpcio) and `AsyncClient` (asyncio, grpc.aio): every rpc of KeyService,
  RotationService and AdminService as a typed method, with the bearer token on every call, a
  timeout per attempt and a deadline per call, and retries with exponential backoff and full
  jitter for the rpcs the proto calls safe to retry (never Rotate, Rollback, CreateToken, forced
  ScheduleRotation or RollbackEvent).
- `encrypt_stream` / `decrypt_stream` of the clients: streams of any length sealed and opened by
  the server (EncryptStream, DecryptStream) as iterators of bytes; one attempt, never retried.
- `encrypt_many` / `decrypt_many` / `rewrap_many`: many items in batch calls split within the
  server's limits, one result per item in input order (a response or a `RekeyError` instance).
- `RekeyError` and its subclasses: one closed set of what can go wrong, mapped from the server's
  error reasons and status codes as the Rust client maps them.
- `Envelope` / `AsyncEnvelope`: local envelope encryption with a cached data key, so thousands
  of encryptions cost one GenerateDataKey call and still get a key of their own each.
- Streams: `Envelope.encrypt_stream` / `decrypt_stream` / `decrypt_range` and the file objects
  `EncryptWriter` / `DecryptReader` seal and open files of any length in constant memory (stream
  ciphertexts, kind 0x04), under the same cached data keys.
- `describe`: kind, key name and version of any Rekey value, offline.

Secrets (token, data keys, plaintext) never appear in repr(), errors or observer events.
"""

from . import proto
from .aio import AsyncClient
from .client import Client
from .config import DEFAULT_ADDR, CallOptions, ClientConfig
from .describe import FormatError, Kind, ValueInfo, describe
from .envelope import AsyncEnvelope, DecryptReader, EncryptWriter, Envelope
from .errors import (
    AuthenticationFailedError,
    ConfigError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RekeyError,
    TooLargeError,
    TransportError,
    UnauthenticatedError,
    UnavailableError,
    VersionRetiredError,
)
from .observer import CacheEvent, Observer
from .policy import CachePolicy, CacheStats
from .retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ADDR",
    "AsyncClient",
    "AsyncEnvelope",
    "AuthenticationFailedError",
    "CacheEvent",
    "CachePolicy",
    "CacheStats",
    "CallOptions",
    "Client",
    "ClientConfig",
    "ConfigError",
    "DeadlineExceededError",
    "DecryptReader",
    "EncryptWriter",
    "Envelope",
    "FailedPreconditionError",
    "FormatError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidCiphertextError",
    "KeyNotFoundError",
    "Kind",
    "NotFoundError",
    "Observer",
    "PermissionDeniedError",
    "RateLimitedError",
    "RekeyError",
    "RetryPolicy",
    "TooLargeError",
    "TransportError",
    "UnauthenticatedError",
    "UnavailableError",
    "ValueInfo",
    "VersionRetiredError",
    "describe",
    "proto",
]
