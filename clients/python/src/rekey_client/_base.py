"""What the sync and the async client share: how one is configured (arguments, a ClientConfig, or
the environment), its bearer token and grpc target, and a repr that never shows the token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .config import DEFAULT_ADDR, DEFAULT_BATCH_MAX_BYTES, DEFAULT_BATCH_MAX_ITEMS, ClientConfig, PathLike
from .observer import Observer
from .retry import RetryPolicy

Self = TypeVar("Self", bound="ClientBase")


class ClientBase:
    """Configuration half of `Client` and `AsyncClient`."""

    def __init__(
        self,
        addr: str = DEFAULT_ADDR,
        *,
        token: str | None = None,
        token_file: PathLike | None = None,
        ca_file: PathLike | None = None,
        client_cert_file: PathLike | None = None,
        client_key_file: PathLike | None = None,
        connect_timeout: float = 5.0,
        attempt_timeout: float = 10.0,
        deadline: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        observer: Observer | None = None,
        batch_max_items: int = DEFAULT_BATCH_MAX_ITEMS,
        batch_max_bytes: int = DEFAULT_BATCH_MAX_BYTES,
        config: ClientConfig | None = None,
    ) -> None:
        """Connects lazily (on the first call) to `addr`: `http://host:port`, `https://host:port`
        or `host:port`. With `config`, every other argument is ignored. Raises ConfigError for
        an unusable address, token or certificate file."""
        if config is None:
            config = ClientConfig(
                addr=addr,
                token=token,
                token_file=token_file,
                ca_file=ca_file,
                client_cert_file=client_cert_file,
                client_key_file=client_key_file,
                connect_timeout=connect_timeout,
                attempt_timeout=attempt_timeout,
                deadline=deadline,
                retry_policy=retry_policy or RetryPolicy(),
                observer=observer,
                batch_max_items=batch_max_items,
                batch_max_bytes=batch_max_bytes,
            )
        self._config = config
        self._target, self._tls = config.target()
        self._credentials = config.credentials() if self._tls else None
        self._bearer = config.bearer()
        self._open()

    def _open(self) -> None:
        """Makes the channel (sync or asyncio)."""
        raise NotImplementedError

    @classmethod
    def from_env(cls: type[Self], environ: Mapping[str, str] | None = None, **overrides: object) -> Self:
        """A client as the environment says: REKEY_ADDR, REKEY_TOKEN_FILE or REKEY_TOKEN,
        REKEY_CA_FILE, REKEY_CLIENT_CERT_FILE + REKEY_CLIENT_KEY_FILE. Keyword arguments (any
        field of ClientConfig) override the environment."""
        return cls(config=ClientConfig.from_env(environ, **overrides))

    @property
    def config(self) -> ClientConfig:
        return self._config

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(addr={self._config.addr!r}, "
            f"token={'<redacted>' if self._bearer else None}, tls={self._tls})"
        )
