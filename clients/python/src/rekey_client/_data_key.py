"""One data key and the two things done with it: sealing a value (kind 0x03) and opening one; it
also derives the per-stream key of a stream ciphertext (kind 0x04, see _stream.py).
Per message: a random 16-byte salt and 12-byte nonce, message key = HKDF-SHA256-Expand(DK,
"rekey/v1 envelope message key" || salt, 32) = HMAC-SHA256(DK, info || 0x01), payload AAD =
value[0:5+N] || salt || caller's associated data, AES-256-GCM (docs/ciphertext-format.md).

Zeroization, and its limits in Python: the data key is held in a bytearray that is overwritten
when the DataKey is dropped (evicted from both caches and no operation still holds it: CPython
frees it at once) or wiped. The HMAC keyed state lives in OpenSSL memory that OpenSSL cleanses on
free. Per-message keys and decrypted plaintext are immutable `bytes`, which Python cannot
overwrite; they are unreferenced right after use but stay in freed memory until reused.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._format import (
    KEY_LEN,
    NONCE_LEN,
    SALT_LEN,
    EnvelopeValue,
    FormatError,
    Kind,
    check_wrapped_key,
    validate_key_name,
)

#: The associated data of every wrapped data key (GenerateDataKey and the Decrypt that unwraps).
DATA_KEY_AAD = b"rekey/v1 envelope data key"
MESSAGE_KEY_LABEL = b"rekey/v1 envelope message key"
STREAM_KEY_LABEL = b"rekey/v1 stream segment key"
#: AES-GCM's limit for one message.
MAX_PLAINTEXT = (1 << 36) - 32


class SealError(Exception):
    """The plaintext is beyond what one AES-GCM message may hold."""


class OpenError(Exception):
    """The payload did not authenticate (modified, or other associated data)."""


class DataKey:
    """A data key of `key_name`, wrapped by version `key_version` into `wrapped_key`."""

    __slots__ = ("__weakref__", "_key", "_mac", "key_name", "key_version", "wrapped_key")

    def __init__(self, key_name: str, key_version: int, plaintext_key: bytes | bytearray, wrapped_key: bytes):
        """Checks as the Rust DataKey::new does: a valid name and version, 32 key bytes, and a
        wrapped key that is a kind-0x01 ciphertext of 32 bytes under that name and version.
        Raises FormatError."""
        validate_key_name(key_name)
        if not 1 <= key_version <= 0xFFFFFFFF:
            raise FormatError("ZeroKeyVersion", f"invalid key version {key_version}")
        if len(plaintext_key) != KEY_LEN:
            raise FormatError("InvalidKeyLength", f"a data key has 32 bytes, not {len(plaintext_key)}")
        check_wrapped_key(wrapped_key, key_name, key_version)
        self.key_name = key_name
        self.key_version = key_version
        self.wrapped_key = bytes(wrapped_key)
        self._key = bytearray(plaintext_key)
        # HMAC's keyed state, copied per message: the key schedule is done once per data key.
        self._mac = hmac.HMAC(self._key, hashes.SHA256())

    def __repr__(self) -> str:
        return f"DataKey(key_name={self.key_name!r}, key_version={self.key_version}, key=<redacted>)"

    def __del__(self) -> None:
        self.wipe()

    def wipe(self) -> None:
        """Overwrites the key bytes; the key is unusable afterwards."""
        key = getattr(self, "_key", None)
        if key is not None:
            key[:] = bytes(len(key))

    def _derive(self, label: bytes, salt: bytes) -> bytes:
        """HKDF-SHA256-Expand(DK, label || salt, 32): one HMAC, HMAC-SHA256(DK, info || 0x01)."""
        mac = self._mac.copy()
        mac.update(label + salt + b"\x01")
        return mac.finalize()

    def _message_key(self, salt: bytes) -> bytes:
        return self._derive(MESSAGE_KEY_LABEL, salt)

    def stream_key(self, salt: bytes) -> bytes:
        """The key of the stream with this salt: HKDF-SHA256-Expand(DK, "rekey/v1 stream segment
        key" || salt, 32)."""
        return self._derive(STREAM_KEY_LABEL, salt)

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """An envelope ciphertext of `plaintext`, with a fresh random salt and nonce."""
        if len(plaintext) > MAX_PLAINTEXT:
            raise SealError(f"plaintext of {len(plaintext)} bytes is beyond AES-GCM's limit for one message")
        name = self.key_name.encode("ascii")
        prefix = b"RK\x01" + bytes([Kind.ENVELOPE_CIPHERTEXT, len(name)]) + name
        randomness = os.urandom(SALT_LEN + NONCE_LEN)
        salt, nonce = randomness[:SALT_LEN], randomness[SALT_LEN:]
        try:
            body = AESGCM(self._message_key(salt)).encrypt(nonce, plaintext, prefix + salt + associated_data)
        except OverflowError as e:  # cryptography's own size limits
            raise SealError(f"plaintext of {len(plaintext)} bytes is too large to encrypt: {e}") from None
        return b"".join((prefix, self.key_version.to_bytes(4, "big"), self.wrapped_key, randomness, body))

    def open(self, value: EnvelopeValue, associated_data: bytes) -> bytes:
        """The plaintext of a parsed value whose embedded wrapped key is this key's."""
        if value.wrapped_key != self.wrapped_key:
            raise OpenError("the value was sealed under another data key")
        key = self._message_key(value.salt)
        try:
            return AESGCM(key).decrypt(value.nonce, value.body, value.bound_prefix + value.salt + associated_data)
        except (InvalidTag, OverflowError):
            raise OpenError("authentication failed") from None
