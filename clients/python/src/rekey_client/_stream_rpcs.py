"""What `Client` and `AsyncClient` share for the two streaming rpcs, EncryptStream and
DecryptStream: the first request of each (the call's settings), the caller's chunks cut into
request messages, and a guard around the caller's iterable that keeps its own error apart from
the call's. The calls themselves are in client.py and aio.py: one attempt each, never retried,
since the caller's iterable is consumed as it is sent and cannot be replayed.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from . import proto as pb
from .errors import InvalidArgumentError

#: Largest chunk put in one request message: a larger chunk of the caller's goes in several, so
#: that no message nears a server's message size limit.
MAX_MESSAGE_CHUNK = 1 << 20

Req = TypeVar("Req", bound=Message)

#: A chunk of a stream: any bytes-like object.
Chunk = bytes | bytearray | memoryview

_U32 = 1 << 32


def encrypt_first(key_name: str, associated_data: bytes, segment_size: int) -> pb.EncryptStreamRequest:
    """The first EncryptStream request: the key, the associated data and the segment size (the
    server checks the range 256..1048576; 0 is its default, 65536)."""
    if isinstance(segment_size, bool) or not isinstance(segment_size, int) or not 0 <= segment_size < _U32:
        raise InvalidArgumentError(
            f"segment_size must be 0 (the default, 65536) or 256 to 1048576, not {segment_size!r}"
        )
    return pb.EncryptStreamRequest(key_name=key_name, associated_data=bytes(associated_data), segment_size=segment_size)


def decrypt_first(associated_data: bytes) -> pb.DecryptStreamRequest:
    """The first DecryptStream request: the associated data given to encrypt."""
    return pb.DecryptStreamRequest(associated_data=bytes(associated_data))


def pieces(chunk: Any) -> Iterator[bytes]:
    """`chunk` (any bytes-like object) as bytes of at most MAX_MESSAGE_CHUNK each; nothing for an
    empty chunk. Raises TypeError for anything that is not bytes-like (a str, an int)."""
    if isinstance(chunk, bytes):
        view = memoryview(chunk)
    else:
        try:
            view = memoryview(chunk)
        except TypeError:
            raise TypeError(f"a stream's chunks are bytes-like objects, not {type(chunk).__name__}") from None
        if view.ndim != 1 or view.format != "B":
            view = memoryview(view.tobytes())
    with view:
        if len(view) <= MAX_MESSAGE_CHUNK:
            if len(view):
                yield chunk if isinstance(chunk, bytes) else view.tobytes()
            return
        for start in range(0, len(view), MAX_MESSAGE_CHUNK):
            yield view[start : start + MAX_MESSAGE_CHUNK].tobytes()


def encrypt_requests(chunks: Iterable[Any]) -> Iterator[pb.EncryptStreamRequest]:
    for chunk in chunks:
        for piece in pieces(chunk):
            yield pb.EncryptStreamRequest(chunk=piece)


def decrypt_requests(chunks: Iterable[Any]) -> Iterator[pb.DecryptStreamRequest]:
    for chunk in chunks:
        for piece in pieces(chunk):
            yield pb.DecryptStreamRequest(chunk=piece)


async def encrypt_requests_async(
    chunks: AsyncIterable[Any] | Iterable[Any],
) -> AsyncIterator[pb.EncryptStreamRequest]:
    async for chunk in _aiter(chunks):
        for piece in pieces(chunk):
            yield pb.EncryptStreamRequest(chunk=piece)


async def decrypt_requests_async(
    chunks: AsyncIterable[Any] | Iterable[Any],
) -> AsyncIterator[pb.DecryptStreamRequest]:
    async for chunk in _aiter(chunks):
        for piece in pieces(chunk):
            yield pb.DecryptStreamRequest(chunk=piece)


async def _aiter(chunks: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


class Feed(Generic[Req]):
    """The requests of one blocking streaming call: `first`, then `rest` (made from the caller's
    iterable), read by a grpc thread. If the caller's iterable raises, the error is kept in
    `error` and the call is cancelled (never half-closed: the server would take a cut input for
    a whole one); the reader of the answers then raises `error` in place of the cancellation."""

    def __init__(self, first: Req, rest: Iterator[Req]) -> None:
        self._first = first
        self._rest = rest
        self.error: Exception | None = None
        self._call: Any = None
        self._attached = threading.Event()

    def attach(self, call: Any) -> None:
        """Tells the feed its call (made after the feed, which may already be read)."""
        self._call = call
        self._attached.set()

    def __iter__(self) -> Iterator[Req]:
        yield self._first
        try:
            yield from self._rest
        except Exception as e:
            self.error = e
            if not self._attached.wait(5.0) or self._call is None:
                raise  # grpc then fails the call itself
            self._call.cancel()


class AsyncFeed(Generic[Req]):
    """As `Feed`, for grpc.aio, which reads the requests in a task of its own and cancels the
    call itself when they raise (logging only at debug level); the error is kept in `error`."""

    def __init__(self, first: Req, rest: AsyncIterator[Req], *, await_headers: bool = False) -> None:
        self._first = first
        self._rest = rest
        self._await_headers = await_headers
        self._call: Any = None
        self.error: Exception | None = None

    def attach(self, call: Any) -> None:
        """The call these requests feed (set before the event loop runs grpc's reader task)."""
        self._call = call

    async def requests(self) -> AsyncIterator[Req]:
        yield self._first
        # EncryptStream checks its first message (key, scope, segment size) before it answers
        # with headers, and refuses at once. Wait for that answer before sending more: grpc.aio
        # turns a write racing the server's refusal into "Internal error from Core", hiding
        # the server's status (NOT_FOUND, INVALID_ARGUMENT). (DecryptStream answers only once
        # it has the whole stream header, which may take more than the first message.)
        if self._await_headers and self._call is not None:
            await self._call.initial_metadata()
            if self._call.done():
                return
        try:
            async for request in self._rest:
                yield request
        except Exception as e:
            self.error = e
            raise
