"""Where a client connects and how it authenticates, given as arguments or read from the
environment (`REKEY_*`, as the `rekey` CLI and the Rust client read them), plus the timeouts and
retries every call gets unless a `CallOptions` overrides them. As crates/rekey-client/src/
builder.rs and client.rs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import grpc

from .errors import ConfigError
from .observer import Observer
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_ADDR",
    "DEFAULT_BATCH_MAX_BYTES",
    "DEFAULT_BATCH_MAX_ITEMS",
    "MAX_RESPONSE_BYTES",
    "CallOptions",
    "ClientConfig",
]

#: The address used when REKEY_ADDR is not set.
DEFAULT_ADDR = "http://127.0.0.1:50051"

#: Largest answer the client accepts: well above any server's `max_plaintext_bytes`, so the
#: server's limit, not grpc's 4 MiB default, decides what fits.
MAX_RESPONSE_BYTES = 1 << 30

#: The server's default batch limits (items per call; bytes per call, counted as the server counts
#: them: plaintext or ciphertext plus associated data of every item).
DEFAULT_BATCH_MAX_ITEMS = 10_000
DEFAULT_BATCH_MAX_BYTES = 16 * 1024 * 1024

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class CallOptions:
    """Per-call overrides; None keeps the client's setting. Times in seconds."""

    #: Time the whole call may take, retries and backoff included.
    deadline: float | None = None
    #: Time one attempt may take (also sent to the server as `grpc-timeout`).
    attempt_timeout: float | None = None
    #: A W3C `traceparent` to send, so the server's spans join the caller's trace. Unset, the
    #: current OpenTelemetry span's context is sent when opentelemetry-api is installed.
    traceparent: str | None = None


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """Everything a client needs; `repr()` never shows the token.

    Defaults: no token, plain text unless the address is `https://`, connect timeout 5 s, 10 s
    per attempt, 30 s per call in all, `RetryPolicy()`, batches (`encrypt_many`, ...) of at most
    10,000 items and 16 MiB, the server's default limits.
    """

    addr: str = DEFAULT_ADDR
    token: str | None = None
    token_file: PathLike | None = None
    ca_file: PathLike | None = None
    client_cert_file: PathLike | None = None
    client_key_file: PathLike | None = None
    connect_timeout: float = 5.0
    attempt_timeout: float = 10.0
    deadline: float = 30.0
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    observer: Observer | None = None
    #: Most items `encrypt_many`, `decrypt_many` and `rewrap_many` put in one call.
    batch_max_items: int = DEFAULT_BATCH_MAX_ITEMS
    #: Most bytes (plaintext or ciphertext, plus associated data, summed over the items) they put
    #: in one call; a single item above it is not sent (TooLargeError in its place).
    batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES

    def __post_init__(self) -> None:
        for name in ("batch_max_items", "batch_max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")

    def __repr__(self) -> str:
        return (
            f"ClientConfig(addr={self.addr!r}, token={'<redacted>' if self.token else None}, "
            f"token_file={self.token_file!r}, ca_file={self.ca_file!r}, "
            f"client_cert_file={self.client_cert_file!r}, client_key_file={self.client_key_file!r}, "
            f"connect_timeout={self.connect_timeout}, attempt_timeout={self.attempt_timeout}, "
            f"deadline={self.deadline}, retry_policy={self.retry_policy!r}, "
            f"batch_max_items={self.batch_max_items}, batch_max_bytes={self.batch_max_bytes})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ClientConfig:
        """Reads REKEY_ADDR (default DEFAULT_ADDR), REKEY_TOKEN_FILE or else REKEY_TOKEN,
        REKEY_CA_FILE, and REKEY_CLIENT_CERT_FILE with REKEY_CLIENT_KEY_FILE (mTLS); keyword
        arguments override what the environment says.

        Raises ConfigError when only one of the client certificate and key is set."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value is not None and value.strip() else None

        values: dict[str, object] = {"addr": get("REKEY_ADDR") or DEFAULT_ADDR}
        token_file, token = get("REKEY_TOKEN_FILE"), get("REKEY_TOKEN")
        if token_file is not None:
            values["token_file"] = token_file
        elif token is not None:
            values["token"] = token
        if (ca := get("REKEY_CA_FILE")) is not None:
            values["ca_file"] = ca
        cert, key = get("REKEY_CLIENT_CERT_FILE"), get("REKEY_CLIENT_KEY_FILE")
        if (cert is None) != (key is None):
            raise ConfigError(
                "REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE go together: set both for mTLS, or neither"
            )
        if cert is not None:
            values["client_cert_file"], values["client_key_file"] = cert, key
        if "token" in overrides:
            values.pop("token_file", None)
        if "token_file" in overrides:
            values.pop("token", None)
        values.update(overrides)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except TypeError as e:
            raise ConfigError(f"unknown client setting: {e}") from None

    def with_overrides(self, **changes: object) -> ClientConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    # What a channel is made of -------------------------------------------------------------

    def target(self) -> tuple[str, bool]:
        """The grpc target ("host:port") and whether it needs TLS; `host:port` means http://."""
        addr = self.addr.strip()
        scheme, sep, rest = addr.partition("://")
        if not sep:
            scheme, rest = "http", addr
        if scheme not in ("http", "https"):
            raise ConfigError(f"invalid Rekey address {addr!r}: use http://, https:// or host:port")
        rest = rest.rstrip("/")
        if not rest or "/" in rest:
            raise ConfigError(f"invalid Rekey address {addr!r}")
        tls = scheme == "https"
        if not tls and (self.ca_file or self.client_cert_file or self.client_key_file):
            raise ConfigError(f"a CA or client certificate is set but the address {addr!r} is not https://")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ConfigError("client_cert_file and client_key_file go together: set both for mTLS, or neither")
        return rest, tls

    def credentials(self) -> grpc.ChannelCredentials:
        """TLS credentials for an https:// address: the server's CA (no public roots are used,
        as in the Rust client: Rekey servers are normally behind a private CA) and, for mTLS,
        the client's certificate and key."""
        if self.ca_file is None:
            raise ConfigError("an https:// address needs the server's CA: set REKEY_CA_FILE or ca_file")
        ca = _read(self.ca_file)
        if self.client_cert_file is not None and self.client_key_file is not None:
            key = bytearray(_read(self.client_key_file))
            try:
                return grpc.ssl_channel_credentials(ca, bytes(key), _read(self.client_cert_file))
            finally:
                key[:] = bytes(len(key))  # our copy; grpc keeps its own
        return grpc.ssl_channel_credentials(ca)

    def bearer(self) -> str | None:
        """`Bearer <token>` for the authorization header, or None without a token. The errors
        name no part of the token: it is a secret."""
        if self.token is not None:
            token = self.token.strip()
        elif self.token_file is not None:
            token = _read(self.token_file).decode("utf-8", "replace").strip()
            if not token:
                raise ConfigError(f"token file {os.fspath(self.token_file)} is empty")
        else:
            return None
        if not token or any(not (0x20 < ord(c) < 0x7F) for c in token):
            raise ConfigError("the token contains characters that cannot be sent in a header")
        return f"Bearer {token}"

    def channel_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
            ("grpc.max_send_message_length", -1),
        ]


def _read(path: PathLike) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {os.fspath(path)}: {e.strerror or e}") from None
