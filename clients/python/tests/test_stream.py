"""Stream ciphertexts against a real server: round trips under a data key from GenerateDataKey,
the cache rules of the contract (a stream takes its data key like one message of 0 bytes; its
wrapped key is unwrapped through the decrypt cache, one Decrypt for many reads), the asyncio
forms, and a 200 MiB stream in constant memory. Call counts come from the server's /metrics."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import rekey_client
from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    CachePolicy,
    Client,
    InvalidArgumentError,
    InvalidCiphertextError,
    describe,
)
from rekey_client.testing import RekeyServer

from .conftest import DECRYPT, GENERATE_DATA_KEY, KEY
from .test_envelope import Calls

LONG = 3600.0
S = 256


def seal(envelope: rekey_client.Envelope, data: bytes, ad: bytes = b"", segment_size: int = S) -> bytes:
    out = io.BytesIO()
    assert envelope.encrypt_stream(io.BytesIO(data), out, ad, segment_size=segment_size) == len(data)
    return out.getvalue()


def unseal(envelope: rekey_client.Envelope, value: bytes, ad: bytes = b"") -> bytes:
    out = io.BytesIO()
    assert envelope.decrypt_stream(io.BytesIO(value), out, ad) == len(out.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, S, S + 1, 7 * S + 13])
def test_round_trips_under_a_data_key_of_the_server(client: Client, size: int) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    data = os.urandom(size)
    value = seal(envelope, data, b"file=1")
    info = describe(value)
    assert (info.kind, info.key_name) == (rekey_client.Kind.STREAM_CIPHERTEXT, KEY)
    assert unseal(envelope, value, b"file=1") == data
    cold = client.envelope(KEY, CachePolicy(max_age=LONG))
    assert unseal(cold, value, b"file=1") == data
    with cold.open_decrypt_reader(io.BytesIO(value), b"file=1") as reader:
        assert reader.read() == data
    assert cold.decrypt_range(io.BytesIO(value), size // 3, size, b"file=1") == data[size // 3 :]


def test_the_default_segment_size(client: Client) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    data = os.urandom(200_000)
    out = io.BytesIO()
    with envelope.open_encrypt_writer(out, b"ad") as writer:
        for i in range(0, len(data), 10_000):
            writer.write(data[i : i + 10_000])
    value = out.getvalue()
    n = len(KEY)
    assert value[94 + 2 * n : 98 + 2 * n] == (65536).to_bytes(4, "big")
    assert len(value) == 98 + 2 * n + len(data) + 16 * 4
    assert unseal(envelope, value, b"ad") == data


def test_several_streams_take_one_data_key_each_like_a_message_of_0_bytes(client: Client, server: RekeyServer) -> None:
    calls = Calls(server, GENERATE_DATA_KEY)
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    values = [seal(envelope, os.urandom(1000)) for _ in range(5)]
    envelope.encrypt(b"and a message")
    assert calls.made() == 1
    assert (envelope.stats().encrypt_misses, envelope.stats().encrypt_hits) == (1, 5)
    assert len({v[: 78 + 2 * len(KEY)] for v in values}) == 1, "one wrapped data key"
    # max_bytes does not count a stream's bytes: its length is unknown when it starts.
    calls = Calls(server, GENERATE_DATA_KEY)
    small = client.envelope(KEY, CachePolicy(max_age=LONG, max_bytes=10))
    for _ in range(4):
        seal(small, os.urandom(5000))
    assert calls.made() == 1
    # max_messages counts each stream as one message.
    calls = Calls(server, GENERATE_DATA_KEY)
    counted = client.envelope(KEY, CachePolicy(max_age=LONG, max_messages=2))
    for _ in range(5):
        seal(counted, b"x")
    assert calls.made() == 3


def test_one_decrypt_for_several_reads_of_streams_under_one_data_key(client: Client, server: RekeyServer) -> None:
    sealer = client.envelope(KEY, CachePolicy(max_age=LONG))
    data = os.urandom(3 * S + 5)
    values = [seal(sealer, data, b"ad") for _ in range(3)]
    calls = Calls(server, DECRYPT)
    reader = client.envelope(KEY, CachePolicy(max_age=LONG))
    for value in values:
        assert unseal(reader, value, b"ad") == data
        assert reader.decrypt_range(io.BytesIO(value), 100, 700, b"ad") == data[100:700]
        with reader.open_decrypt_reader(io.BytesIO(value), b"ad") as r:
            assert r.read() == data
    assert calls.made() == 1
    assert (reader.stats().decrypt_misses, reader.stats().decrypt_hits) == (1, 8)
    assert calls.made() == 1


def test_concurrent_cold_stream_reads_share_one_decrypt(client: Client, server: RekeyServer) -> None:
    value = seal(client.envelope(KEY, CachePolicy(max_age=LONG)), b"shared" * 100)
    calls = Calls(server, DECRYPT)
    reader = client.envelope(KEY, CachePolicy(max_age=LONG))
    start = threading.Barrier(16)

    def read(_: int) -> bytes:
        start.wait()
        return unseal(reader, value)

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(read, range(16))) == {b"shared" * 100}
    assert calls.made() == 1


def test_refusals_against_the_server(client: Client, server: RekeyServer) -> None:
    envelope = client.envelope(KEY, CachePolicy(max_age=LONG))
    calls = Calls(server, GENERATE_DATA_KEY)
    with pytest.raises(InvalidArgumentError):
        envelope.encrypt_stream(io.BytesIO(b"x"), io.BytesIO(), segment_size=100)
    assert calls.made() == 0, "a bad segment size is refused before any call"
    value = seal(envelope, os.urandom(600), b"ad")
    with pytest.raises(AuthenticationFailedError):
        unseal(envelope, value, b"other")
    with pytest.raises(AuthenticationFailedError):
        unseal(envelope, value[:-1], b"ad")
    # An envelope value (kind 0x03) given to the stream reader.
    with pytest.raises(InvalidCiphertextError, match="not a stream ciphertext"):
        unseal(envelope, envelope.encrypt(b"a message"))
    # Another key's stream.
    other = seal(client.envelope("SESSION_ENCRYPTION", CachePolicy(max_age=LONG)), b"theirs")
    with pytest.raises(InvalidCiphertextError):
        unseal(envelope, other)
    # A stream whose embedded wrapped key was altered: the server refuses to unwrap it.
    n = len(KEY)
    broken = bytearray(value)
    broken[9 + n + 21 + n + 3] ^= 1
    with pytest.raises(AuthenticationFailedError):
        unseal(client.envelope(KEY, CachePolicy(max_age=LONG)), bytes(broken), b"ad")


def test_the_server_opens_and_rewraps_a_stream_made_here(client: Client, server: RekeyServer) -> None:
    key = "DATABASE_ENCRYPTION"
    envelope = client.envelope(key, CachePolicy(max_age=LONG))
    data = os.urandom(3 * S + 40)
    value = seal(envelope, data, b"file=9")
    opened = client.decrypt(rekey_client.proto.DecryptRequest(ciphertext=value, associated_data=b"file=9"))
    assert opened.plaintext == data
    rotated = client.rotate(rekey_client.proto.RotateRequest(key_name=key, force=True))
    rewrapped = client.rewrap(rekey_client.proto.RewrapRequest(ciphertext=value)).ciphertext
    assert describe(rewrapped).key_version == rotated.new_version != describe(value).key_version
    n = len(key)
    assert rewrapped[78 + 2 * n :] == value[78 + 2 * n :], "salt, segment size and segments unchanged"
    calls = Calls(server, DECRYPT)
    cold = client.envelope(key, CachePolicy(max_age=LONG))
    assert unseal(cold, rewrapped, b"file=9") == data
    assert cold.decrypt_range(io.BytesIO(rewrapped), 5, 300, b"file=9") == data[5:300]
    assert calls.made() == 1


def test_the_asyncio_forms(server: RekeyServer) -> None:
    data = os.urandom(5 * S + 1)

    async def scenario() -> None:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as c:
            envelope = c.envelope(KEY, CachePolicy(max_age=LONG))
            gdk = Calls(server, GENERATE_DATA_KEY)
            outs = [io.BytesIO() for _ in range(4)]
            sizes = await asyncio.gather(
                *(envelope.encrypt_stream(io.BytesIO(data), out, b"ad", segment_size=S) for out in outs)
            )
            assert sizes == [len(data)] * 4
            assert gdk.made() == 1
            values = [out.getvalue() for out in outs]
            dec = Calls(server, DECRYPT)
            cold = c.envelope(KEY, CachePolicy(max_age=LONG))
            sinks = [io.BytesIO() for _ in values]
            counts = await asyncio.gather(
                *(cold.decrypt_stream(io.BytesIO(v), s, b"ad") for v, s in zip(values, sinks, strict=True))
            )
            assert counts == [len(data)] * 4 and all(s.getvalue() == data for s in sinks)
            assert await cold.decrypt_range(io.BytesIO(values[0]), S - 3, 3 * S, b"ad") == data[S - 3 : 3 * S]
            assert dec.made() == 1, "concurrent tasks share one Decrypt"
            with pytest.raises(AuthenticationFailedError):
                await cold.decrypt_stream(io.BytesIO(values[0][:-17]), io.BytesIO(), b"ad")
            with pytest.raises(InvalidArgumentError):
                await cold.decrypt_range(io.BytesIO(values[0]), 0, len(data) + 1, b"ad")
            with pytest.raises(InvalidArgumentError):
                await envelope.encrypt_stream(io.BytesIO(b""), io.BytesIO(), segment_size=1 << 21)
            with pytest.raises(InvalidCiphertextError):
                await cold.decrypt_stream(io.BytesIO(await envelope.encrypt(b"m")), io.BytesIO())

    asyncio.run(scenario())


# A 200 MiB stream in constant memory, measured in a process of its own: the data is made as it
# is read and hashed as it is written, so only the stream code's buffers can grow the peak RSS.
BIG_STREAM = textwrap.dedent(
    """
    import hashlib, io, json, os, resource, sys, tempfile
    from rekey_client import CachePolicy, Client

    TOTAL = 200 << 20

    class Source(io.RawIOBase):
        def __init__(self):
            self.block, self.left, self.turn = os.urandom(1 << 20), TOTAL, 0
            self.hash = hashlib.sha256()
        def readable(self):
            return True
        def readinto(self, b):
            n = min(len(b), self.left, 1 << 19)
            at = (self.turn * 7919) % (1 << 19)
            self.turn += 1
            b[:n] = self.block[at : at + n]
            self.hash.update(b[:n])
            self.left -= n
            return n

    class Sink(io.RawIOBase):
        def __init__(self):
            self.hash, self.n = hashlib.sha256(), 0
        def writable(self):
            return True
        def write(self, b):
            self.hash.update(b)
            self.n += len(b)
            return len(b)

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB

    with Client(os.environ["REKEY_ADDR"], token=os.environ["REKEY_TOKEN"]) as client:
        envelope = client.envelope("TOKEN_ENCRYPTION", CachePolicy(max_age=600))
        warm = io.BytesIO()
        envelope.encrypt_stream(io.BytesIO(b"warm up" * 50000), warm)
        warm.seek(0)
        envelope.decrypt_stream(warm, Sink())
        before = rss()
        with tempfile.TemporaryFile() as f:
            src = Source()
            assert envelope.encrypt_stream(src, f, b"big") == TOTAL
            size = f.tell()
            f.seek(0)
            sink = Sink()
            assert envelope.decrypt_stream(f, sink, b"big") == TOTAL
            f.seek(0)
            middle = envelope.decrypt_range(f, 100 << 20, (100 << 20) + 4096, b"big")
        same = src.hash.digest() == sink.hash.digest()
        result = {"growth": rss() - before, "size": size, "same": same, "n": sink.n, "range": len(middle)}
        print(json.dumps(result))
    """
)


def test_a_200_mib_stream_round_trips_in_constant_memory(server: RekeyServer, tmp_path: Path) -> None:
    script = tmp_path / "big_stream.py"
    script.write_text(BIG_STREAM)
    env = dict(os.environ, REKEY_ADDR=server.grpc_url, REKEY_TOKEN=server.admin_token)
    env["PYTHONPATH"] = str(Path(rekey_client.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    total = 200 << 20
    assert result["same"] and result["n"] == total and result["range"] == 4096
    assert result["size"] == 98 + 2 * len(KEY) + total + 16 * (total // 65536)
    assert result["growth"] < 16 << 20, f"peak RSS grew by {result['growth'] / (1 << 20):.1f} MiB for 200 MiB"
