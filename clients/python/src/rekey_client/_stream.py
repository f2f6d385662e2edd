"""Stream ciphertexts (kind 0x04, docs/ciphertext-format.md): a payload of any length in segments
of S plaintext bytes, each sealed with AES-256-GCM under a per-stream key, written and read in
constant memory (about two segments), or opened by byte range.

    stream key  = HKDF-SHA256-Expand(DK, "rekey/v1 stream segment key" || salt, 32)
    nonce_i     = 7 zero bytes || u32 BE i || 0x01 if segment i is the last else 0x00
    segment AAD = value[0:5+N] || salt || S (u32 BE) || associated data  (every segment)

No network here: the envelope (envelope.py) finds the data key, this module does the segments.
A sequential reader reads S + 16 bytes and one more to learn whether the segment is the last; a
segment that fails its tag is never released, and a stream that ends without a last segment is an
AuthenticationFailedError, never a clean end of file.

Zeroization (see _data_key.py for what Python can wipe): the segment buffers holding plaintext
are bytearrays, reused and overwritten when the stream ends or fails. The stream key is the
`bytes` HMAC returns, which Python cannot overwrite; AES-GCM keeps its own copy in OpenSSL.
Plaintext returned by `read()` is `bytes`; `readinto()` fills the caller's buffer instead.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ._data_key import DataKey
from ._format import (
    MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE,
    SALT_LEN,
    TAG_LEN,
    FormatError,
    Kind,
    StreamHeader,
    parse_stream_header,
    stream_header_len,
    stream_header_len_from_prefix,
)
from .errors import AuthenticationFailedError, InvalidArgumentError, TooLargeError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = ["DecryptReader", "EncryptWriter"]

#: The AuthenticationFailedError message of every segment that does not open (as the Rust
#: CryptoError::StreamAuthenticationFailed).
STREAM_AUTH_MESSAGE = (
    "stream ciphertext failed authentication: a segment was modified, reordered, duplicated or "
    "removed, the stream was truncated or extended, or the associated data differs"
)
#: A stream holds at most 2^32 segments (the index is a u32 of the nonce).
MAX_SEGMENTS = 1 << 32


def stream_auth_failed() -> AuthenticationFailedError:
    return AuthenticationFailedError(STREAM_AUTH_MESSAGE)


def check_segment_size(segment_size: int) -> int:
    """The segment size an encrypt call was given, or InvalidArgumentError."""
    if isinstance(segment_size, bool) or not isinstance(segment_size, int):
        raise InvalidArgumentError(f"segment_size must be an int, not {type(segment_size).__name__}")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise InvalidArgumentError(
            f"invalid segment size of {segment_size} bytes; it must be between {MIN_SEGMENT_SIZE} and "
            f"{MAX_SEGMENT_SIZE}"
        )
    return segment_size


def _nonce(index: int, last: bool) -> bytes:
    return bytes(7) + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _segment_aad(bound_prefix: bytes, salt: bytes, segment_size: int, associated_data: bytes) -> bytes:
    return bound_prefix + salt + segment_size.to_bytes(4, "big") + associated_data


_HAS_INTO = hasattr(AESGCM, "encrypt_into") and hasattr(AESGCM, "decrypt_into")


class SegmentSealer:
    """Seals the segments of one new stream in order; `header` is written first."""

    def __init__(self, key: DataKey, segment_size: int, associated_data: bytes, salt: bytes) -> None:
        if len(salt) != SALT_LEN:
            raise ValueError("a stream salt has 16 bytes")
        name = key.key_name.encode("ascii")
        bound_prefix = b"RK\x01" + bytes([Kind.STREAM_CIPHERTEXT, len(name)]) + name
        self.header = b"".join(
            (bound_prefix, key.key_version.to_bytes(4, "big"), key.wrapped_key, salt, segment_size.to_bytes(4, "big"))
        )
        assert len(self.header) == stream_header_len(len(name))
        self.segment_size = segment_size
        self._aead = AESGCM(key.stream_key(salt))
        self._aad = _segment_aad(bound_prefix, salt, segment_size, bytes(associated_data))
        self._index = 0
        self.finished = False

    def seal_into(self, plaintext: memoryview, last: bool, out: bytearray) -> memoryview:
        """Seals the next segment (exactly S bytes, or for the last 1..S, 0 only if it is the
        first); returns the view of `out` holding its ciphertext and tag."""
        n = len(plaintext)
        if self.finished:
            raise ValueError("a segment after the last one")
        if n > self.segment_size or (not last and n != self.segment_size) or (last and n == 0 and self._index > 0):
            raise ValueError("a segment must hold exactly the segment size, the last one 1 to that")
        if self._index >= MAX_SEGMENTS:
            raise TooLargeError(f"a stream holds at most 2^32 segments of {self.segment_size} bytes")
        nonce = _nonce(self._index, last)
        view = memoryview(out)[: n + TAG_LEN]
        if _HAS_INTO:
            self._aead.encrypt_into(nonce, plaintext, self._aad, view)
        else:  # cryptography < 45
            view[:] = self._aead.encrypt(nonce, plaintext, self._aad)
        self._index += 1
        self.finished = last
        return view


class SegmentOpener:
    """Opens the segments of one stream, each by its index and last flag."""

    def __init__(self, key: DataKey, header: StreamHeader, associated_data: bytes) -> None:
        if header.key_name != key.key_name or header.wrapped_key != key.wrapped_key:
            raise stream_auth_failed()
        self.header = header
        self.segment_size = header.segment_size
        self._aead = AESGCM(key.stream_key(header.salt))
        self._aad = _segment_aad(header.bound_prefix, header.salt, header.segment_size, bytes(associated_data))

    def open_into(self, index: int, last: bool, segment: memoryview, out: bytearray) -> int:
        """Opens segment `index` (ciphertext and tag) into `out`; returns its plaintext length.
        Raises AuthenticationFailedError, leaving nothing of it in `out`."""
        n = len(segment) - TAG_LEN
        if n < 0 or n > self.segment_size or index >= MAX_SEGMENTS:
            raise stream_auth_failed()
        view = memoryview(out)[:n]
        try:
            if _HAS_INTO:
                self._aead.decrypt_into(_nonce(index, last), segment, self._aad, view)
            else:  # cryptography < 45
                view[:] = self._aead.decrypt(_nonce(index, last), segment, self._aad)
        except InvalidTag:
            view[:] = bytes(n)  # decrypt_into may have written unauthenticated plaintext
            raise stream_auth_failed() from None
        return n


@dataclass(frozen=True)
class StreamLayout:
    """Where the segments of a stream of known total length lie, and which a range needs."""

    header_len: int
    segment_size: int
    total_len: int
    segments: int

    @classmethod
    def of(cls, header: StreamHeader, total_len: int) -> StreamLayout:
        """AuthenticationFailedError when the bytes after the header cannot end with a last
        segment (fewer than 16, or a last segment cut inside its tag): truncated."""
        body = total_len - header.length
        full = header.segment_size + TAG_LEN
        if body < TAG_LEN:
            raise stream_auth_failed()
        segments = -(-body // full)
        if body - (segments - 1) * full < TAG_LEN or segments > MAX_SEGMENTS:
            raise stream_auth_failed()
        return cls(header.length, header.segment_size, total_len, segments)

    @property
    def plaintext_len(self) -> int:
        return self.total_len - self.header_len - self.segments * TAG_LEN

    def segment(self, index: int) -> tuple[int, int, bool]:
        """Start and end offsets of segment `index` in the stream, and whether it is the last."""
        start = self.header_len + index * (self.segment_size + TAG_LEN)
        last = index == self.segments - 1
        return start, (self.total_len if last else start + self.segment_size + TAG_LEN), last

    def segments_for(self, start: int, end: int) -> range:
        """The segments holding plaintext bytes [start, end); InvalidArgumentError outside it."""
        if start < 0 or start > end or end > self.plaintext_len:
            raise InvalidArgumentError(
                f"byte range {start}..{end} is outside the stream's {self.plaintext_len} bytes of plaintext"
            )
        if start == end:
            return range(0)
        return range(start // self.segment_size, (end - 1) // self.segment_size + 1)


def read_into(src: BinaryIO, view: memoryview) -> int:
    """Reads up to len(view) bytes into `view`, as many as the source gives before its end."""
    readinto: Callable[[memoryview], int | None] | None = getattr(src, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:]) or 0
        else:
            data = src.read(len(view) - got)
            n = len(data)
            view[got : got + n] = data
        if n == 0:
            break
        got += n
    return got


def write_all(dst: BinaryIO, data: memoryview) -> None:
    """Writes all of `data` (a raw file object may take part of it per call)."""
    while len(data):
        n = dst.write(data)
        if n is None:  # a non-blocking raw stream that would block
            raise BlockingIOError("the destination cannot take data now; give a blocking file object")
        data = data[n:]


def read_stream_header(src: BinaryIO) -> StreamHeader:
    """Reads and parses the stream header at the source's position (reading nothing past it).
    Raises FormatError."""
    first = bytearray(5)
    got = read_into(src, memoryview(first))
    if got < 5:
        parse_stream_header(bytes(first[:got]))  # raises: fewer than 5 bytes are never a header
        raise FormatError("TooShort", f"ciphertext is truncated: {got} bytes")  # pragma: no cover
    rest = bytearray(stream_header_len_from_prefix(bytes(first)) - 5)
    got = read_into(src, memoryview(rest))
    return parse_stream_header(bytes(first + rest[:got]))


class EncryptWriter(io.BufferedIOBase):
    """A writable file object: plaintext written to it goes to `dst` as a stream ciphertext, one
    segment at a time. `close()` seals the last segment (and flushes `dst`, which stays open);
    without it the stream is incomplete and never decrypts. Leaving a `with` block by an
    exception, or `abort()`, discards the stream instead: its last segment is never written.
    Made by `Envelope.open_encrypt_writer`."""

    def __init__(self, dst: BinaryIO, sealer: SegmentSealer) -> None:
        super().__init__()
        self._dst = dst
        self._sealer = sealer
        size = sealer.segment_size
        self._buf = bytearray(size)  # plaintext of the segment being filled
        self._fill = 0
        self._out = bytearray(size + TAG_LEN)
        self._broken = False
        #: Plaintext bytes written so far.
        self.plaintext_len = 0
        write_all(dst, memoryview(sealer.header))

    @property
    def segment_size(self) -> int:
        return self._sealer.segment_size

    def writable(self) -> bool:
        return True

    def write(self, buffer: ReadableBuffer, /) -> int:
        if self.closed:
            raise ValueError("write to a closed stream writer")
        if self._broken:
            raise ValueError("the stream writer failed earlier; this stream is incomplete")
        with memoryview(buffer) as raw, raw.cast("B") as data:
            total, pos, size = len(data), 0, self._sealer.segment_size
            while pos < total:
                if self._fill == size:  # more follows, so the full segment is not the last
                    self._emit(last=False)
                take = min(size - self._fill, total - pos)
                self._buf[self._fill : self._fill + take] = data[pos : pos + take]
                self._fill += take
                pos += take
            self.plaintext_len += total
            return total

    def _emit(self, last: bool) -> None:
        try:
            with memoryview(self._buf) as buf:
                sealed = self._sealer.seal_into(buf[: self._fill], last, self._out)
                write_all(self._dst, sealed)
                sealed.release()
        except BaseException:
            self._broken = True
            raise
        self._fill = 0

    def abort(self) -> None:
        """Discards the stream: the last segment is never written, so what `dst` received does
        not decrypt (it reads as truncated). The writer is closed."""
        self._broken = True
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._broken:
                self._emit(last=True)
                self._dst.flush()
        finally:
            self._wipe()
            super().close()

    def _wipe(self) -> None:
        self._buf[:] = bytes(len(self._buf))
        self._fill = 0

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # Never seal a stream nobody closed: garbage collection is not the end of the data.
        if not getattr(self, "closed", True):
            self._broken = True
        super().__del__()

    def __repr__(self) -> str:
        return f"EncryptWriter(segment_size={self._sealer.segment_size}, plaintext_len={self.plaintext_len})"


class DecryptReader(io.BufferedIOBase):
    """A readable file object: the plaintext of the stream ciphertext read from `src`, one
    authenticated segment at a time. It reads `S + 16` bytes and one more to know whether a
    segment is the last; a segment that fails authentication, or a stream that ends without its
    last segment, raises AuthenticationFailedError (never a clean end of file). Plaintext is
    released segment by segment before the end is checked: treat what was read as incomplete
    unless reading reached the end without error. `close()` does not close `src`. Made by
    `Envelope.open_decrypt_reader`."""

    def __init__(self, src: BinaryIO, opener: SegmentOpener) -> None:
        super().__init__()
        self._src = src
        self._opener = opener
        size = opener.segment_size
        # One segment and the byte after it; that byte starts the next segment.
        self._seg = bytearray(size + TAG_LEN + 1)
        self._carry = 0
        self._plain = bytearray(size)
        self._plain_len = 0
        self._plain_pos = 0
        self._index = 0
        self._eof = False
        self._failed = False
        #: Plaintext bytes released so far.
        self.plaintext_len = 0

    @property
    def segment_size(self) -> int:
        return self._opener.segment_size

    def readable(self) -> bool:
        return True

    def _next_segment(self) -> bool:
        """Opens the next segment into the plaintext buffer; False at the end of the stream."""
        if self._failed:
            raise stream_auth_failed()
        if self._eof:
            return False
        size = self._opener.segment_size
        want = size + TAG_LEN + 1
        try:
            with memoryview(self._seg) as seg:
                got = self._carry + read_into(self._src, seg[self._carry : want])
                last = got < want
                length = got if last else want - 1
                if length < TAG_LEN:  # the input ends inside a tag, or before any segment
                    raise stream_auth_failed()
                self._plain_len = self._opener.open_into(self._index, last, seg[:length], self._plain)
        except AuthenticationFailedError:
            self._failed = True
            self._wipe()
            raise
        self._plain_pos = 0
        self._index += 1
        if last:
            self._eof = True
            self._carry = 0
        else:
            self._seg[0] = self._seg[want - 1]
            self._carry = 1
        return True

    def _available(self) -> bool:
        """Whether plaintext is ready to hand out, opening the next segment when needed."""
        while self._plain_pos == self._plain_len:
            if not self._next_segment():
                return False
        return True

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("read from a closed stream reader")

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        self._check_open()
        with memoryview(buffer) as raw, raw.cast("B") as out:
            done = 0
            while done < len(out) and self._available():
                done += self._copy_out(out[done:])
            return done

    def readinto1(self, buffer: WriteableBuffer, /) -> int:
        self._check_open()
        with memoryview(buffer) as raw, raw.cast("B") as out:
            if len(out) == 0 or not self._available():
                return 0
            return self._copy_out(out)

    def _copy_out(self, out: memoryview) -> int:
        n = min(len(out), self._plain_len - self._plain_pos)
        out[:n] = self._plain[self._plain_pos : self._plain_pos + n]
        self._plain_pos += n
        self.plaintext_len += n
        return n

    def read(self, size: int | None = -1, /) -> bytes:
        self._check_open()
        left = -1 if size is None or size < 0 else size
        parts = []
        while left != 0 and self._available():
            part = self._take(left)
            parts.append(part)
            left = left - len(part) if left > 0 else left
        return b"".join(parts)

    def read1(self, size: int = -1, /) -> bytes:
        self._check_open()
        if size == 0 or not self._available():
            return b""
        return self._take(size)

    def _take(self, size: int) -> bytes:
        """Up to `size` bytes (all if negative) of the current segment's plaintext."""
        n = self._plain_len - self._plain_pos if size < 0 else min(size, self._plain_len - self._plain_pos)
        data = bytes(self._plain[self._plain_pos : self._plain_pos + n])
        self._plain_pos += n
        self.plaintext_len += n
        return data

    def close(self) -> None:
        if not self.closed:
            self._wipe()
        super().close()

    def _wipe(self) -> None:
        self._plain[:] = bytes(len(self._plain))
        self._plain_len = self._plain_pos = 0

    def __repr__(self) -> str:
        return f"DecryptReader(segment_size={self._opener.segment_size}, plaintext_len={self.plaintext_len})"


def pump_encrypt(src: BinaryIO, writer: EncryptWriter, chunk: bytearray, limit: int | None) -> bool:
    """Copies plaintext from `src` into `writer`, `chunk` at a time, up to about `limit` bytes
    (None: all); True once `src` has ended."""
    done = 0
    with memoryview(chunk) as view:
        while limit is None or done < limit:
            n = read_into(src, view)
            if n == 0:
                return True
            writer.write(view[:n])
            done += n
    return False


def pump_decrypt(reader: DecryptReader, dst: BinaryIO, chunk: bytearray, limit: int | None) -> bool:
    """Copies plaintext from `reader` to `dst` up to about `limit` bytes (None: all); True at
    the end of the stream."""
    done = 0
    with memoryview(chunk) as view:
        while limit is None or done < limit:
            n = reader.readinto(view)
            if n == 0:
                return True
            write_all(dst, view[:n])
            done += n
    return False


@dataclass(frozen=True)
class RangePlan:
    """A byte-range read: where the stream starts in the source, its header and layout."""

    origin: int
    header: StreamHeader
    layout: StreamLayout


def plan_range(src: BinaryIO) -> RangePlan:
    """Reads the header of the stream that runs from the source's position to its end, and the
    layout that its length gives. Raises FormatError, AuthenticationFailedError (truncated)."""
    origin = src.tell()
    end = src.seek(0, io.SEEK_END)
    src.seek(origin)
    header = read_stream_header(src)
    return RangePlan(origin, header, StreamLayout.of(header, end - origin))


def read_range(src: BinaryIO, plan: RangePlan, opener: SegmentOpener, start: int, end: int) -> bytes:
    """Plaintext bytes [start, end), reading and opening only the segments that hold them."""
    layout = plan.layout
    size = layout.segment_size
    out = bytearray(end - start)
    seg = bytearray(size + TAG_LEN)
    plain = bytearray(size)
    filled = 0
    try:
        for index in layout.segments_for(start, end):
            seg_start, seg_end, last = layout.segment(index)
            src.seek(plan.origin + seg_start)
            with memoryview(seg) as view:
                length = seg_end - seg_start
                if read_into(src, view[:length]) != length:  # the source shrank meanwhile
                    raise stream_auth_failed()
                n = opener.open_into(index, last, view[:length], plain)
            first = index * size
            lo, hi = max(start, first) - first, min(end, first + n) - first
            out[filled : filled + hi - lo] = plain[lo:hi]
            filled += hi - lo
        return bytes(out)
    finally:
        out[:] = bytes(len(out))
        plain[:] = bytes(len(plain))
