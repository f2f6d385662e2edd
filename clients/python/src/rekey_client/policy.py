"""How long and how much one cached data key may be used, and how many unwrapped data keys the
decrypt side keeps. As crates/rekey-client/src/envelope/policy.rs."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CachePolicy", "CacheStats"]


@dataclass(frozen=True)
class CachePolicy:
    """Limits of an envelope's data-key caches (times in seconds).

    Encrypt side: one data key is reused until it is `max_age` old, or has sealed `max_messages`
    values, or `max_bytes` of plaintext, whichever comes first; then the next encryption fetches
    a new one (one GenerateDataKey call). Every value still gets its own HKDF-derived key and
    nonce, so these limits bound exposure, not AES-GCM's nonce budget. `max_age` is required: a
    key that is never replaced would outlive every rotation.

    Decrypt side: up to `decrypt_entries` unwrapped data keys (0: none), each kept `decrypt_ttl`
    (default `max_age`) after it was unwrapped, least recently used first out when full.
    """

    max_age: float
    max_messages: int | None = None
    max_bytes: int | None = None
    decrypt_entries: int = 1000
    decrypt_ttl: float | None = None

    def __post_init__(self) -> None:
        if not self.max_age > 0:
            raise ValueError("max_age must be positive (seconds)")
        if self.max_messages is not None and self.max_messages < 1:
            # As the Rust client: at least one message per data key.
            object.__setattr__(self, "max_messages", 1)
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError("max_bytes cannot be negative")
        if self.decrypt_entries < 0:
            raise ValueError("decrypt_entries cannot be negative")
        if self.decrypt_ttl is None:
            object.__setattr__(self, "decrypt_ttl", self.max_age)
        elif self.decrypt_ttl < 0:
            raise ValueError("decrypt_ttl cannot be negative")


@dataclass(frozen=True)
class CacheStats:
    """Counters of an envelope's caches since it was made."""

    #: Encryptions that used the cached data key.
    encrypt_hits: int = 0
    #: Data keys fetched (GenerateDataKey calls that succeeded).
    encrypt_misses: int = 0
    #: Decryptions whose data key was already unwrapped.
    decrypt_hits: int = 0
    #: Data keys unwrapped (Decrypt calls that succeeded).
    decrypt_misses: int = 0
    #: Unwrapped data keys dropped from the decrypt cache (age, size, forget()).
    evictions: int = 0
