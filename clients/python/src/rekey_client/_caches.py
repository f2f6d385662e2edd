"""The envelope's two caches, each behind a plain lock held only to look up or count (never
across a call to the server, so the same caches serve threads and asyncio tasks):

- EncryptCache: the one current data key and how much it has sealed, for the policy's limits.
- DecryptCache: unwrapped data keys, an LRU keyed by the wrapped key bytes, each with a TTL.

The single-flight gates (who fetches or unwraps while the others wait) are the envelope's: a
threading.Lock for the blocking Envelope, an asyncio.Lock for AsyncEnvelope.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ._data_key import DataKey
from .policy import CachePolicy


@dataclass
class _Current:
    key: DataKey
    fetched: float
    messages: int
    bytes: int

    def allows(self, policy: CachePolicy, length: int) -> bool:
        """Whether the policy lets this key seal one more message of `length` bytes."""
        expired = time.monotonic() - self.fetched >= policy.max_age
        # A fresh key (from warm()) always takes its first message, whatever its size.
        exhausted = self.messages > 0 and (
            (policy.max_messages is not None and self.messages >= policy.max_messages)
            or (policy.max_bytes is not None and self.bytes + length > policy.max_bytes)
        )
        return not expired and not exhausted


class EncryptCache:
    def __init__(self, policy: CachePolicy) -> None:
        self._policy = policy
        self._lock = threading.Lock()
        self._current: _Current | None = None

    def take(self, length: int) -> DataKey | None:
        """The current key, counted as used for one message of `length` bytes, if the policy
        still allows it; an exhausted key is dropped."""
        with self._lock:
            current = self._current
            if current is None:
                return None
            if not current.allows(self._policy, length):
                self._current = None
                return None
            current.messages += 1
            current.bytes += length
            return current.key

    def is_usable(self) -> bool:
        """Whether a current key could seal a message now (nothing is counted)."""
        with self._lock:
            return self._current is not None and self._current.allows(self._policy, 0)

    def install(self, key: DataKey, messages: int, length: int) -> None:
        """Makes `key` current, already used by `messages` messages of `length` bytes in all."""
        with self._lock:
            self._current = _Current(key, time.monotonic(), messages, length)

    def clear(self) -> None:
        with self._lock:
            self._current = None


class DecryptCache:
    def __init__(self, capacity: int, ttl: float) -> None:
        self._capacity = capacity
        self._ttl = ttl
        self._lock = threading.Lock()
        # wrapped key -> (data key, monotonic time it was inserted); most recently used last.
        self._entries: OrderedDict[bytes, tuple[DataKey, float]] = OrderedDict()

    def get(self, wrapped: bytes) -> tuple[DataKey | None, int]:
        """The unwrapped key of `wrapped` if cached and fresh; and how many keys expired."""
        with self._lock:
            entry = self._entries.get(wrapped)
            if entry is None:
                return None, 0
            key, inserted = entry
            if time.monotonic() - inserted >= self._ttl:
                del self._entries[wrapped]
                return None, 1
            self._entries.move_to_end(wrapped)
            return key, 0

    def insert(self, key: DataKey) -> int:
        """Caches `key`; returns how many keys were evicted (expired, or least recently used to
        make room)."""
        if self._capacity <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            expired = [w for w, (_, at) in self._entries.items() if now - at >= self._ttl]
            for wrapped in expired:
                del self._entries[wrapped]
            evicted = len(expired)
            self._entries.pop(key.wrapped_key, None)
            while len(self._entries) >= self._capacity:
                self._entries.popitem(last=False)
                evicted += 1
            self._entries[key.wrapped_key] = (key, now)
            return evicted

    def clear(self) -> int:
        """Drops every key; returns how many."""
        with self._lock:
            n = len(self._entries)
            self._entries.clear()
            return n

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
