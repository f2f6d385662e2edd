"""Envelope encryption against a real server: the call counts come from the server's /metrics,
so "one GenerateDataKey" is what the server saw, not what the client believes."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import pytest

from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    CacheEvent,
    CachePolicy,
    Client,
    InvalidCiphertextError,
    KeyNotFoundError,
    RekeyError,
    RetryPolicy,
    describe,
    proto,
)
from rekey_client.testing import RekeyServer

from .conftest import DECRYPT, GENERATE_DATA_KEY, KEY, Recorder

LONG = 3600.0


class Calls:
    """Server-side call counts of one method between two points of a test."""

    def __init__(self, server: RekeyServer, method: str) -> None:
        self.server, self.method = server, method
        self.before = server.rpc_count(method)

    def made(self) -> float:
        return self.server.rpc_count(self.method) - self.before


def test_ten_thousand_encryptions_within_max_age_make_one_generate_data_key(
    client: Client, server: RekeyServer
) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    values = [envelope.encrypt(b"record %d" % i, b"row %d" % i) for i in range(10_000)]
    assert calls.made() == 1
    stats = envelope.stats()
    assert (stats.encrypt_misses, stats.encrypt_hits) == (1, 9_999)
    assert len(set(values)) == 10_000, "every value has its own salt and nonce"
    assert envelope.decrypt(values[1234], b"row 1234") == b"record 1234"


def test_64_concurrent_cold_encryptions_in_threads_make_one_call(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    start = threading.Barrier(64)

    def seal(i: int) -> bytes:
        start.wait()
        return envelope.encrypt(b"secret %d" % i, b"")

    with ThreadPoolExecutor(max_workers=64) as pool:
        values = list(pool.map(seal, range(64)))
    assert calls.made() == 1
    assert envelope.stats().encrypt_misses == 1
    assert [envelope.decrypt(v) for v in values] == [b"secret %d" % i for i in range(64)]


def test_64_concurrent_cold_encryptions_in_asyncio_make_one_call(server: RekeyServer) -> None:
    async def scenario() -> list[bytes]:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as c:
            envelope = c.envelope(KEY, CachePolicy(max_age=LONG))
            values = await asyncio.gather(*(envelope.encrypt(b"secret %d" % i, b"ad") for i in range(64)))
            assert envelope.stats().encrypt_misses == 1
            opened = await asyncio.gather(*(envelope.decrypt(v, b"ad") for v in values))
            assert opened == [b"secret %d" % i for i in range(64)]
            return list(values)

    calls = Calls(server, GENERATE_DATA_KEY)
    assert len(asyncio.run(scenario())) == 64
    assert calls.made() == 1


def test_concurrent_cold_decryptions_of_one_data_key_make_one_decrypt(client: Client, server: RekeyServer) -> None:
    sealer = client.envelope(KEY, CachePolicy(max_age=LONG))
    values = [sealer.encrypt(b"value %d" % i, b"") for i in range(32)]
    calls = Calls(server, DECRYPT)
    reader = client.envelope(KEY, CachePolicy(max_age=LONG))
    start = threading.Barrier(32)

    def open_(v: bytes) -> bytes:
        start.wait()
        return reader.decrypt(v)

    with ThreadPoolExecutor(max_workers=32) as pool:
        opened = list(pool.map(open_, values))
    assert opened == [b"value %d" % i for i in range(32)]
    assert calls.made() == 1
    assert (reader.stats().decrypt_misses, reader.stats().decrypt_hits) == (1, 31)


def test_a_decrypt_cache_hit_makes_no_decrypt_call(client: Client, server: RekeyServer, recorder: Recorder) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    value = envelope.encrypt(b"mine", b"row 1")
    calls = Calls(server, DECRYPT)
    for _ in range(100):
        assert envelope.decrypt(value, b"row 1") == b"mine"
    assert calls.made() == 0, "the data key from GenerateDataKey is already in the decrypt cache"
    assert envelope.stats().decrypt_hits == 100
    assert (KEY, CacheEvent.DECRYPT_HIT) in recorder.cache_events


def test_max_messages_rolls_the_data_key_over(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG, max_messages=3))
    values = [envelope.encrypt(b"m") for _ in range(7)]
    assert calls.made() == 3  # 3 + 3 + 1
    wrapped = {describe_wrapped(v) for v in values}
    assert len(wrapped) == 3


def test_max_bytes_rolls_the_data_key_over(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG, max_bytes=100))
    envelope.encrypt(bytes(60))
    envelope.encrypt(bytes(40))
    assert calls.made() == 1
    envelope.encrypt(bytes(1))  # 101 > 100
    assert calls.made() == 2
    envelope.encrypt(bytes(500))  # a fresh key... is used (1 byte) and 501 > 100: another key
    assert calls.made() == 3


def test_max_age_rolls_the_data_key_over(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=0.3))
    envelope.encrypt(b"a")
    envelope.encrypt(b"b")
    assert calls.made() == 1
    time.sleep(0.35)
    envelope.encrypt(b"c")
    assert calls.made() == 2


def test_warm_fetches_once_and_the_first_encryption_uses_it(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG, max_messages=1))
    envelope.warm()
    envelope.warm()
    assert calls.made() == 1
    envelope.encrypt(b"x")
    assert calls.made() == 1
    envelope.encrypt(b"y")  # max_messages=1: the warmed key is used up
    assert calls.made() == 2


def test_a_value_rewrapped_by_the_server_still_decrypts(client: Client, server: RekeyServer) -> None:
    key = "DATABASE_ENCRYPTION"
    envelope = client.envelope(key, CachePolicy(max_age=LONG))
    value = envelope.encrypt(b"survives rotation", b"row 9")
    rotated = client.rotate(proto.RotateRequest(key_name=key, force=True))
    rewrapped = client.rewrap(proto.RewrapRequest(ciphertext=value)).ciphertext
    assert describe(rewrapped).key_version == rotated.new_version != describe(value).key_version
    assert rewrapped[-40:] == value[-40:], "salt, nonce, payload and tag are copied unchanged"
    # A cold envelope must unwrap the new wrapped key with the server.
    calls = Calls(server, DECRYPT)
    cold = client.envelope(key, CachePolicy(max_age=LONG))
    assert cold.decrypt(rewrapped, b"row 9") == b"survives rotation"
    assert cold.decrypt(value, b"row 9") == b"survives rotation"
    assert calls.made() == 2
    # The server's own Decrypt opens envelope values too.
    assert client.decrypt(proto.DecryptRequest(ciphertext=rewrapped, associated_data=b"row 9")).plaintext == (
        b"survives rotation"
    )


def test_tampering_wrong_associated_data_and_foreign_values_are_refused(client: Client) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    value = envelope.encrypt(b"card 4111", b"row 1")
    for i in (len(value) - 1, len(value) - 20, 110):  # tag, payload/nonce, salt
        tampered = bytearray(value)
        tampered[i] ^= 1
        with pytest.raises(AuthenticationFailedError):
            envelope.decrypt(bytes(tampered), b"row 1")
    with pytest.raises(AuthenticationFailedError):
        envelope.decrypt(value, b"row 2")
    # A value whose embedded wrapped key was tampered with: the server refuses to unwrap it.
    n = len(KEY)
    broken = bytearray(value)
    broken[9 + n + 21 + n + 3] ^= 1
    with pytest.raises(AuthenticationFailedError):
        client.envelope(KEY, CachePolicy(max_age=LONG)).decrypt(bytes(broken), b"row 1")
    with pytest.raises(InvalidCiphertextError):
        envelope.decrypt(b"garbage", b"row 1")
    with pytest.raises(InvalidCiphertextError):
        envelope.decrypt(value[:-40], b"row 1")
    other = client.envelope("SESSION_ENCRYPTION", CachePolicy(max_age=LONG)).encrypt(b"x")
    with pytest.raises(InvalidCiphertextError):
        envelope.decrypt(other)
    server_ciphertext = client.encrypt(proto.EncryptRequest(key_name=KEY, plaintext=b"p")).ciphertext
    with pytest.raises(InvalidCiphertextError):
        envelope.decrypt(server_ciphertext)


def test_an_unknown_key_fails_on_the_first_encryption(client: Client) -> None:
    with pytest.raises(KeyNotFoundError):
        client.envelope("NO_SUCH_KEY", CachePolicy(max_age=60)).encrypt(b"x")


def test_repr_and_errors_never_show_keys_tokens_or_plaintext(client: Client, server: RekeyServer) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    plaintext = b"PLAINTEXT-MARKER-93c1"
    value = envelope.encrypt(plaintext, b"row")
    current = envelope._encrypt_cache._current
    assert current is not None
    secret_hex = bytes(current.key._key).hex()
    texts = [repr(envelope), str(envelope), repr(envelope.stats()), repr(client), repr(client.config),
             repr(current.key), repr(server)]  # fmt: skip
    try:
        envelope.decrypt(value, b"other row")
    except AuthenticationFailedError as e:
        texts += [str(e), repr(e)]
    for text in texts:
        assert secret_hex not in text and secret_hex[:16] not in text
        assert server.admin_token not in text
        assert "PLAINTEXT-MARKER" not in text
    assert "<redacted>" in repr(client) and "<redacted>" in repr(current.key)


def test_forget_drops_the_keys_and_a_dropped_key_is_wiped(client: Client) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    envelope.encrypt(b"x")
    current = envelope._encrypt_cache._current
    assert current is not None
    key = current.key
    raw = key._key
    alive = weakref.ref(key)
    del current, key
    envelope.forget()
    gc.collect()
    assert alive() is None, "no cache holds the data key any more"
    assert raw == bytearray(32), "its bytes were overwritten when it was dropped"
    assert envelope.stats().evictions == 1


def describe_wrapped(value: bytes) -> bytes:
    n = value[4]
    return value[9 + n : 78 + 2 * n]


def test_waiters_share_the_failure_of_the_call_they_waited_for(client: Client) -> None:
    """Callers waiting behind one failed GenerateDataKey (or Decrypt of one wrapped key) get its
    error; the next call, which did not wait for it, tries again. As the Rust and TypeScript
    clients. The peer accepts connections and never answers, so the failing call lasts its whole
    attempt timeout and every thread is surely waiting behind it."""
    value = client.envelope(KEY, CachePolicy(max_age=LONG)).encrypt(b"made while up", b"row=1")
    down = Recorder()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        host, port = silent.getsockname()
        with Client(
            f"{host}:{port}", token="t", observer=down, attempt_timeout=0.4, retry_policy=RetryPolicy.none()
        ) as c:
            envelope = c.envelope(KEY, CachePolicy(max_age=LONG))
            start = threading.Barrier(32)

            def call(i: int) -> RekeyError:
                start.wait()
                try:
                    if i % 2:
                        envelope.encrypt(b"pt", b"ad")
                    else:
                        envelope.decrypt(value, b"row=1")
                except RekeyError as e:
                    return e
                raise AssertionError("a call to a silent peer succeeded")

            with ThreadPoolExecutor(max_workers=32) as pool:
                errors = list(pool.map(call, range(32)))
            assert all(e.is_transient for e in errors), errors
            assert len(down.of("GenerateDataKey")) == 1
            assert len(down.of("Decrypt")) == 1
            with pytest.raises(RekeyError):
                envelope.encrypt(b"pt", b"ad")
            assert len(down.of("GenerateDataKey")) == 2
