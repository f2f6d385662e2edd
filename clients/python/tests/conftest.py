"""Fixtures: one real `rekey serve` for the session (tests that need another configuration start
their own), admin clients of it, and a recorder of rpc attempts and cache events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rekey_client import CacheEvent, Client, Observer, RekeyError
from rekey_client.testing import RekeyServer, default_binary

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = REPO_ROOT / "tests" / "vectors"
#: A built-in encryption key of every server.
KEY = "TOKEN_ENCRYPTION"
GENERATE_DATA_KEY = "rekey.v1.KeyService/GenerateDataKey"
DECRYPT = "rekey.v1.KeyService/Decrypt"


@dataclass
class Attempt:
    rpc: str
    attempt: int
    error: RekeyError | None
    at: float  # time.monotonic() when the attempt ended


@dataclass
class Recorder(Observer):
    """Records every attempt and cache event (thread-safe)."""

    attempts: list[Attempt] = field(default_factory=list)
    cache_events: list[tuple[str, CacheEvent]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_attempt(self, rpc: str, attempt: int, error: RekeyError | None) -> None:
        with self.lock:
            self.attempts.append(Attempt(rpc, attempt, error, time.monotonic()))

    def on_cache(self, key_name: str, event: CacheEvent) -> None:
        with self.lock:
            self.cache_events.append((key_name, event))

    def of(self, rpc: str) -> list[Attempt]:
        with self.lock:
            return [a for a in self.attempts if a.rpc == rpc]


@pytest.fixture(scope="session")
def server() -> Iterator[RekeyServer]:
    binary = default_binary()
    if not binary.is_file():
        pytest.fail(f"no rekey binary at {binary}: set REKEY_BIN (the suite needs a real server)")
    with RekeyServer.start(binary=binary) as s:
        yield s


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server: RekeyServer, recorder: Recorder) -> Iterator[Client]:
    with Client(server.grpc_url, token=server.admin_token, observer=recorder) as c:
        yield c
