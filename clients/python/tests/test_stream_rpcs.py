"""The streaming rpcs EncryptStream and DecryptStream against a real server, with the blocking and
the asyncio client: their stream ciphertexts are those of the local Envelope (each side opens the
other's), errors are raised while iterating and mapped as for every rpc, the caller's own error
is raised unchanged, a call is made once (never retried) within the client's deadline, and a
multi-megabyte stream in many small chunks round-trips."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest

import rekey_client
from rekey_client import (
    AsyncClient,
    AuthenticationFailedError,
    CachePolicy,
    CallOptions,
    Client,
    DeadlineExceededError,
    InvalidArgumentError,
    InvalidCiphertextError,
    KeyNotFoundError,
    RetryPolicy,
    UnavailableError,
    describe,
)
from rekey_client.testing import RekeyServer

from .conftest import KEY, Recorder
from .test_envelope import Calls

ENCRYPT_STREAM = "rekey.v1.KeyService/EncryptStream"
LONG = 3600.0
S = 256
#: Bytes of a stream header under KEY (docs/ciphertext-format.md): 98 + twice the name.
HEADER = 98 + 2 * len(KEY)


def cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def local_seal(client: Client, data: bytes, ad: bytes, segment_size: int = S) -> bytes:
    out = io.BytesIO()
    client.envelope(KEY, CachePolicy(max_age=LONG)).encrypt_stream(io.BytesIO(data), out, ad, segment_size=segment_size)
    return out.getvalue()


def local_open(client: Client, value: bytes, ad: bytes) -> bytes:
    out = io.BytesIO()
    client.envelope(KEY, CachePolicy(max_age=LONG)).decrypt_stream(io.BytesIO(value), out, ad)
    return out.getvalue()


async def agen(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk


def drain(chunks: Iterator[bytes], into: list[bytes]) -> None:
    """Appends each chunk to `into` as it comes (what was received before an error stays)."""
    for chunk in chunks:
        into.append(chunk)


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


# Both directions between the server and the local Envelope -----------------------------------


@pytest.mark.parametrize("size", [0, 1, S, S + 1, 7 * S + 13])
def test_a_server_made_stream_opens_locally_and_a_local_one_through_the_server(client: Client, size: int) -> None:
    data = os.urandom(size)
    value = b"".join(client.encrypt_stream(KEY, cut(data, 100), b"file=1", segment_size=S))
    info = describe(value)
    assert (info.kind, info.key_name) == (rekey_client.Kind.STREAM_CIPHERTEXT, KEY)
    assert int.from_bytes(value[HEADER - 4 : HEADER], "big") == S
    segments = max(1, -(-size // S))
    assert len(value) == HEADER + size + 16 * segments
    assert local_open(client, value, b"file=1") == data

    local = local_seal(client, data, b"file=2")
    assert b"".join(client.decrypt_stream(cut(local, 77), b"file=2")) == data
    assert b"".join(client.decrypt_stream(cut(value, 1000), b"file=1")) == data
    with pytest.raises(AuthenticationFailedError):
        list(client.decrypt_stream([local], b"file=1"))


def test_the_default_segment_size_and_answers_as_they_come(client: Client) -> None:
    data = os.urandom(3 * 65536 + 5)
    answers = list(client.encrypt_stream(KEY, cut(data, 10_000), b"ad"))
    assert [len(a) for a in answers] == [HEADER] + [65536 + 16] * 3 + [5 + 16]
    value = b"".join(answers)
    assert int.from_bytes(value[HEADER - 4 : HEADER], "big") == 65536
    plain = list(client.decrypt_stream(cut(value, 4096), b"ad"))
    assert [len(p) for p in plain] == [65536] * 3 + [5]
    assert b"".join(plain) == data == local_open(client, value, b"ad")


def test_the_asyncio_client_streams_the_same(client: Client, server: RekeyServer) -> None:
    data = os.urandom(5 * S + 3)

    async def scenario() -> tuple[bytes, bytes, bytes]:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            made = await collect(aclient.encrypt_stream(KEY, agen(cut(data, 50)), b"a", segment_size=S))
            # A plain iterable of bytes in memory is taken too.
            opened = await collect(aclient.decrypt_stream(cut(local_seal(client, data, b"b"), 33), b"b"))
            again = await collect(aclient.decrypt_stream(agen([made]), b"a"))
            return made, opened, again

    made, opened, again = asyncio.run(scenario())
    assert describe(made).kind is rekey_client.Kind.STREAM_CIPHERTEXT
    assert local_open(client, made, b"a") == data
    assert opened == data == again


# Errors while iterating -----------------------------------------------------------------------


def test_a_dropped_last_segment_raises_authentication_failed_while_iterating(
    client: Client, server: RekeyServer
) -> None:
    data = os.urandom(5 * S + 10)
    value = b"".join(client.encrypt_stream(KEY, [data], b"ad", segment_size=S))
    dropped = value[: -(10 + 16)]  # the last segment (10 bytes of plaintext and its tag) gone
    received: list[bytes] = []
    with pytest.raises(AuthenticationFailedError) as raised:
        drain(client.decrypt_stream(cut(dropped, 1000), b"ad"), received)
    assert raised.value.code == "INVALID_ARGUMENT"
    # The segments before were authenticated and delivered; the truncation showed at the end.
    assert received and data.startswith(b"".join(received))
    with pytest.raises(AuthenticationFailedError):
        local_open(client, dropped, b"ad")

    async def scenario() -> None:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            with pytest.raises(AuthenticationFailedError):
                await collect(aclient.decrypt_stream(agen([dropped]), b"ad"))

    asyncio.run(scenario())


def test_other_refusals_are_typed_as_for_every_rpc(client: Client, server: RekeyServer) -> None:
    with pytest.raises(KeyNotFoundError) as raised:
        list(client.encrypt_stream("NO_SUCH_KEY", [b"data"]))
    assert raised.value.code == "NOT_FOUND"
    with pytest.raises(InvalidArgumentError, match="segment size"):
        list(client.encrypt_stream(KEY, [b"data"], segment_size=100))
    # Not representable in the request at all: refused before any call.
    for bad in (-1, 1 << 32):
        with pytest.raises(InvalidArgumentError, match="segment_size"):
            client.encrypt_stream(KEY, [b"data"], segment_size=bad)
    with pytest.raises(InvalidCiphertextError):
        list(client.decrypt_stream([b"not a stream ciphertext at all, long enough to be read"]))
    envelope_value = client.envelope(KEY, CachePolicy(max_age=LONG)).encrypt(b"x")
    with pytest.raises(InvalidCiphertextError):
        list(client.decrypt_stream([envelope_value]))

    async def scenario() -> None:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            with pytest.raises(KeyNotFoundError):
                await collect(aclient.encrypt_stream("NO_SUCH_KEY", agen([b"data"])))
            with pytest.raises(InvalidArgumentError):
                await collect(aclient.encrypt_stream(KEY, agen([b"data"]), segment_size=100))

    asyncio.run(scenario())


def test_the_callers_own_error_is_raised_unchanged(client: Client, server: RekeyServer) -> None:
    class SourceGone(Exception):
        pass

    def failing() -> Iterator[bytes]:
        yield b"x" * 1000
        raise SourceGone("the disk went away")

    with pytest.raises(SourceGone, match="disk"):
        list(client.encrypt_stream(KEY, failing(), segment_size=S))
    with pytest.raises(TypeError, match="bytes-like"):
        list(client.encrypt_stream(KEY, ["text, not bytes"]))  # type: ignore[list-item]

    async def afailing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise SourceGone("the pipe closed")

    async def scenario() -> None:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            with pytest.raises(SourceGone, match="pipe"):
                await collect(aclient.encrypt_stream(KEY, afailing(), segment_size=S))
            value = local_seal(client, b"y" * 3000, b"")
            with pytest.raises(SourceGone):
                await collect(aclient.decrypt_stream(_then_fail(value), b""))

    async def _then_fail(value: bytes) -> AsyncIterator[bytes]:
        yield value[:500]
        raise SourceGone("halfway")

    asyncio.run(scenario())


# One attempt, lazily, within the deadline --------------------------------------------------------


def test_a_stream_is_never_retried(recorder: Recorder) -> None:
    # Nobody listens there: UNAVAILABLE, which the policy retries for any unary rpc.
    with Client("127.0.0.1:9", token="t", observer=recorder, retry_policy=RetryPolicy(max_attempts=4)) as c:
        with pytest.raises(UnavailableError):
            list(c.encrypt_stream(KEY, [b"data"]))
        with pytest.raises(UnavailableError):
            list(c.decrypt_stream([b"data"]))
    assert [(a.rpc, a.attempt) for a in recorder.attempts] == [("EncryptStream", 1), ("DecryptStream", 1)]


def test_lazy_reported_once_and_stopping_early_cancels(client: Client, server: RekeyServer, recorder: Recorder) -> None:
    calls = Calls(server, ENCRYPT_STREAM)
    answers = client.encrypt_stream(KEY, [b"z" * 1000], segment_size=S)
    assert calls.made() == 0, "nothing is sent before the iteration starts"
    assert len(b"".join(answers)) == HEADER + 1000 + 4 * 16
    assert calls.made() == 1
    assert [(a.attempt, a.error) for a in recorder.of("EncryptStream")] == [(1, None)]

    # An endless input: leaving the loop early ends the call rather than leaving it waiting.
    endless = client.encrypt_stream(KEY, itertools.repeat(b"e" * 1000), segment_size=S)
    first = [next(endless) for _ in range(3)]
    assert len(first[0]) == HEADER and len(first[1]) == S + 16
    started = time.monotonic()
    endless.close()
    assert time.monotonic() - started < 5
    # The connection is still good for the next call.
    assert b"".join(client.decrypt_stream([local_seal(client, b"ok", b"")])) == b"ok"

    async def endless_async() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0)
            yield b"e" * 1000

    async def scenario() -> bytes:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            answers = aclient.encrypt_stream(KEY, endless_async(), segment_size=S)
            assert len(await answers.__anext__()) == HEADER
            await asyncio.wait_for(answers.aclose(), 5)
            return await collect(aclient.decrypt_stream([local_seal(client, b"ok", b"")]))

    assert asyncio.run(scenario()) == b"ok"


def test_only_the_calls_own_deadline_bounds_a_stream(client: Client) -> None:
    def slow(pause: float) -> Iterator[bytes]:
        yield b"s" * 300
        time.sleep(pause)
        yield b"s"

    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        list(client.encrypt_stream(KEY, slow(2), segment_size=S, options=CallOptions(deadline=0.3)))
    assert time.monotonic() - started < 1.9
    with pytest.raises(DeadlineExceededError):
        list(client.encrypt_stream(KEY, slow(2), segment_size=S, options=CallOptions(attempt_timeout=0.3)))
    # The client-wide attempt timeout is for single requests: a stream outlives it.
    with Client(client.config.addr, token=client.config.token, attempt_timeout=0.3) as short:
        value = b"".join(short.encrypt_stream(KEY, slow(0.6), segment_size=S))
    assert local_open(client, value, b"") == b"s" * 301


# Size ---------------------------------------------------------------------------------------------


def test_a_multi_megabyte_stream_in_many_small_chunks_round_trips(client: Client, server: RekeyServer) -> None:
    data = os.urandom(6 * 1024 * 1024 + 12_345)
    value = b"".join(client.encrypt_stream(KEY, cut(data, 4093), b"big"))
    assert len(value) == HEADER + len(data) + 16 * -(-len(data) // 65536)
    assert local_open(client, value, b"big") == data
    # In 1000-byte pieces back through the server; and one 6 MiB chunk (sent as several messages).
    assert b"".join(client.decrypt_stream(cut(value, 1000), b"big")) == data
    assert b"".join(client.decrypt_stream([value], b"big")) == data
    local = local_seal(client, data, b"big", segment_size=1 << 20)
    assert b"".join(client.decrypt_stream([memoryview(local)], b"big")) == data

    async def scenario() -> bytes:
        async with AsyncClient(server.grpc_url, token=server.admin_token) as aclient:
            made = await collect(aclient.encrypt_stream(KEY, agen(cut(data, 8191)), b"big", segment_size=4096))
            return await collect(aclient.decrypt_stream(agen(cut(made, 3000)), b"big"))

    assert asyncio.run(scenario()) == data
