"""Helpers of the stream tests: a data key made locally from known key material (so the offline
tests need no server), an Envelope whose caches already hold it, and file objects that count what
is read from them."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rekey_client import CachePolicy, Client, Envelope
from rekey_client._data_key import DATA_KEY_AAD, DataKey

MATERIAL = bytes(range(32))


def local_data_key(name: str = "files.backup", version: int = 7, data_key: bytes | None = None) -> DataKey:
    """A data key wrapped with MATERIAL exactly as the server's GenerateDataKey would."""
    dk = data_key if data_key is not None else os.urandom(32)
    raw = name.encode()
    header = b"RK\x01\x01" + bytes([len(raw)]) + raw + version.to_bytes(4, "big") + os.urandom(12)
    wrapped = header + AESGCM(MATERIAL).encrypt(header[-12:], dk, header + DATA_KEY_AAD)
    return DataKey(name, version, dk, wrapped)


@contextmanager
def offline_envelope(key: DataKey) -> Iterator[Envelope]:
    """An Envelope of `key`'s name whose encrypt and decrypt caches hold `key`: its stream calls
    make no rpc (its client points at a port nobody listens on)."""
    with Client("127.0.0.1:9", token="t") as client:
        envelope = client.envelope(key.key_name, CachePolicy(max_age=3600))
        envelope._encrypt_cache.install(key, 0, 0)
        envelope._decrypt_cache.insert(key)
        yield envelope


class CountingReader(io.RawIOBase):
    """A seekable source over `data` that counts the calls and bytes read through it."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._inner = io.BytesIO(data)
        self.reads = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._inner.readinto(buffer)
        self.reads += 1
        self.bytes_read += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


class Trickle(io.RawIOBase):
    """A source that gives at most `step` bytes per read (as a pipe or socket may)."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__()
        self._inner = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        with memoryview(buffer) as view:
            return self._inner.readinto(view[: self._step])
