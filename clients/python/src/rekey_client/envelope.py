"""Local envelope encryption: values sealed on the caller's machine under a data key that the
server generated and wrapped (docs/ciphertext-format.md, kind 0x03), and files or streams of any
length sealed in segments under one (kind 0x04, _stream.py). One GenerateDataKey call serves many
encryptions and one Decrypt call many decryptions. As crates/rekey-client/src/
envelope/mod.rs, in two forms: `Envelope` for the blocking Client (single flight across threads)
and `AsyncEnvelope` for AsyncClient (single flight across the tasks of one event loop).

What is cached, and the trade-off: plaintext data keys stay in this process's memory for up to
the policy's limits (overwritten when dropped, see _data_key.py for what Python can and cannot
wipe). A process compromised meanwhile exposes the values sealed under those keys; revoking the
caller's token does not reach keys already cached. A short `max_age` narrows both windows at the
cost of more calls.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, BinaryIO

from . import proto as pb
from ._caches import DecryptCache, EncryptCache
from ._data_key import DATA_KEY_AAD, DataKey, OpenError, SealError
from ._format import (
    DEFAULT_SEGMENT_SIZE,
    SALT_LEN,
    EnvelopeValue,
    FormatError,
    StreamHeader,
    parse_envelope,
    validate_key_name,
)
from ._stream import (
    DecryptReader,
    EncryptWriter,
    RangePlan,
    SegmentOpener,
    SegmentSealer,
    check_segment_size,
    plan_range,
    pump_decrypt,
    pump_encrypt,
    read_range,
    read_stream_header,
)
from .errors import (
    AuthenticationFailedError,
    InternalError,
    InvalidArgumentError,
    InvalidCiphertextError,
    RekeyError,
    TooLargeError,
)
from .observer import CacheEvent, Observer
from .policy import CachePolicy, CacheStats

if TYPE_CHECKING:
    from collections.abc import Callable

    from .aio import AsyncClient
    from .client import Client

__all__ = ["AsyncEnvelope", "DecryptReader", "EncryptWriter", "Envelope"]

#: Plaintext bytes an AsyncEnvelope stream call moves per trip to a worker thread.
_ASYNC_BATCH = 4 << 20


class _Flight:
    """What the callers waiting behind one in-flight call learn when it ends: its failure, if it
    failed. They raise that error instead of each calling again in turn (a server that is down
    would otherwise cost every waiter its own full deadline); a caller that did not wait for the
    failed call tries again. As the Rust client's gates (crates/rekey-client/src/envelope)."""

    def __init__(self) -> None:
        #: Calls ended so far, successful or not; read before waiting at the gate.
        self.ended = 0
        self.failure: RekeyError | None = None

    def failed_since(self, seen: int) -> RekeyError | None:
        """The failure of a call that ended after the caller saw `seen` calls ended."""
        return self.failure if self.ended != seen else None

    def end(self, failure: RekeyError | None) -> None:
        self.failure = failure
        self.ended += 1


class _EnvelopeCore:
    """The caches, counters and the steps both forms share; no I/O here."""

    def __init__(self, key_name: str, policy: CachePolicy, observer: Observer | None) -> None:
        try:
            validate_key_name(key_name)
        except FormatError as e:
            raise InvalidArgumentError(str(e)) from None
        self._key_name = key_name
        self._policy = policy
        self._observer = observer
        self._encrypt_cache = EncryptCache(policy)
        ttl = policy.decrypt_ttl if policy.decrypt_ttl is not None else policy.max_age
        self._decrypt_cache = DecryptCache(policy.decrypt_entries, ttl)
        self._counts_lock = threading.Lock()
        self._counts = dict.fromkeys(CacheEvent, 0)

    @property
    def key_name(self) -> str:
        """The key this envelope encrypts under and accepts values of."""
        return self._key_name

    @property
    def policy(self) -> CachePolicy:
        return self._policy

    def stats(self) -> CacheStats:
        """Cache hits, misses and evictions so far."""
        with self._counts_lock:
            c = dict(self._counts)
        return CacheStats(
            encrypt_hits=c[CacheEvent.ENCRYPT_HIT],
            encrypt_misses=c[CacheEvent.ENCRYPT_MISS],
            decrypt_hits=c[CacheEvent.DECRYPT_HIT],
            decrypt_misses=c[CacheEvent.DECRYPT_MISS],
            evictions=c[CacheEvent.EVICTED],
        )

    def forget(self) -> None:
        """Drops every cached data key (each overwritten once no operation holds it), e.g. after
        the key was rotated for a suspected compromise."""
        self._encrypt_cache.clear()
        self._count(CacheEvent.EVICTED, self._decrypt_cache.clear())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key_name={self._key_name!r}, policy={self._policy!r}, stats={self.stats()!r})"

    def _count(self, event: CacheEvent, n: int = 1) -> None:
        if n <= 0:
            return
        with self._counts_lock:
            self._counts[event] += n
        if self._observer is not None:
            for _ in range(n):
                self._observer.on_cache(self._key_name, event)

    def _take_encrypt_key(self, length: int) -> DataKey | None:
        key = self._encrypt_cache.take(length)
        if key is not None:
            self._count(CacheEvent.ENCRYPT_HIT)
        return key

    def _seal(self, key: DataKey, plaintext: bytes, associated_data: bytes) -> bytes:
        try:
            return key.seal(bytes(plaintext), bytes(associated_data))
        except SealError as e:
            raise TooLargeError(str(e)) from None

    def _fetched(self, response: pb.GenerateDataKeyResponse) -> DataKey:
        """The data key of a GenerateDataKey answer, checked as DataKey::new does; it also goes
        to the decrypt cache, so this process opens its own values without a Decrypt call."""
        plaintext = bytearray(response.plaintext_key)
        try:
            key = DataKey(self._key_name, response.key_version, plaintext, response.wrapped_key)
        except FormatError as e:
            raise InternalError(f"the server's GenerateDataKey answer is not a usable data key: {e}") from None
        finally:
            plaintext[:] = bytes(len(plaintext))
        self._count(CacheEvent.ENCRYPT_MISS)
        self._count(CacheEvent.EVICTED, self._decrypt_cache.insert(key))
        return key

    def _parse(self, value: bytes) -> EnvelopeValue:
        try:
            parsed = parse_envelope(bytes(value))
        except FormatError as e:
            raise InvalidCiphertextError(str(e)) from e
        if parsed.key_name != self._key_name:
            raise InvalidCiphertextError(
                f"the value was sealed under key {parsed.key_name!r}; this envelope is for key {self._key_name!r}"
            )
        return parsed

    def _cached(self, wrapped: bytes) -> DataKey | None:
        key, expired = self._decrypt_cache.get(wrapped)
        self._count(CacheEvent.EVICTED, expired)
        if key is not None:
            self._count(CacheEvent.DECRYPT_HIT)
        return key

    @staticmethod
    def _unwrap_request(parsed: EnvelopeValue | StreamHeader) -> pb.DecryptRequest:
        return pb.DecryptRequest(ciphertext=parsed.wrapped_key, associated_data=DATA_KEY_AAD)

    def _unwrapped(self, parsed: EnvelopeValue | StreamHeader, response: pb.DecryptResponse) -> DataKey:
        plaintext = bytearray(response.plaintext)
        try:
            key = DataKey(parsed.key_name, response.key_version, plaintext, parsed.wrapped_key)
        except FormatError:
            raise InvalidCiphertextError("the value's embedded data key does not unwrap to a data key") from None
        finally:
            plaintext[:] = bytes(len(plaintext))
        self._count(CacheEvent.DECRYPT_MISS)
        self._count(CacheEvent.EVICTED, self._decrypt_cache.insert(key))
        return key

    @staticmethod
    def _open(key: DataKey, parsed: EnvelopeValue, associated_data: bytes) -> bytes:
        try:
            return key.open(parsed, bytes(associated_data))
        except OpenError:
            raise AuthenticationFailedError(
                "envelope ciphertext failed authentication: it was modified, or the associated "
                "data differs from the one used to encrypt it"
            ) from None

    def _generate_request(self) -> pb.GenerateDataKeyRequest:
        return pb.GenerateDataKeyRequest(key_name=self._key_name, associated_data=DATA_KEY_AAD)

    # Streams (kind 0x04). The data key is taken from the encrypt cache like one message of 0
    # bytes (a stream's length is unknown when it starts; its segments are sealed under a key
    # of its own), and a stream's wrapped key is unwrapped through the decrypt cache exactly as
    # an envelope value's.

    @staticmethod
    def _sealer(key: DataKey, associated_data: bytes, segment_size: int) -> SegmentSealer:
        return SegmentSealer(key, segment_size, bytes(associated_data), os.urandom(SALT_LEN))

    def _stream_header(self, read: Callable[[], StreamHeader]) -> StreamHeader:
        """The stream header `read` reads, as InvalidCiphertextError when malformed or of
        another key."""
        try:
            header = read()
        except FormatError as e:
            raise InvalidCiphertextError(str(e)) from e
        self._check_stream_key(header)
        return header

    def _check_stream_key(self, header: StreamHeader) -> None:
        if header.key_name != self._key_name:
            raise InvalidCiphertextError(
                f"the stream was sealed under key {header.key_name!r}; this envelope is for key {self._key_name!r}"
            )

    def _plan_range(self, src: BinaryIO, start: int, end: int) -> RangePlan:
        """The header and layout of the stream in `src`, with the range checked against it."""
        for name, bound in (("start", start), ("end", end)):
            if isinstance(bound, bool) or not isinstance(bound, int):
                raise InvalidArgumentError(f"{name} must be an int, not {type(bound).__name__}")
        if start < 0 or start > end:
            raise InvalidArgumentError(f"byte range {start}..{end} is not a range of plaintext bytes")
        try:
            plan = plan_range(src)
        except FormatError as e:
            raise InvalidCiphertextError(str(e)) from e
        self._check_stream_key(plan.header)
        plan.layout.segments_for(start, end)  # raises InvalidArgumentError past the end
        return plan


class Envelope(_EnvelopeCore):
    """Encrypts and decrypts locally under cached data keys of one key, for the blocking
    `Client`; thread-safe (share one per key). Made by `Client.envelope`."""

    def __init__(self, client: Client, key_name: str, policy: CachePolicy) -> None:
        super().__init__(key_name, policy, client.config.observer)
        self._client = client
        # Held by the thread fetching a new data key; the others wait, then find the new key
        # (or the failure of the fetch they waited for, in `_fetches`).
        self._refill = threading.Lock()
        self._fetches = _Flight()
        self._gates_lock = threading.Lock()
        self._gates: dict[bytes, tuple[threading.Lock, _Flight]] = {}

    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        """Seals `plaintext` locally, binding `associated_data` (give the same bytes to decrypt,
        e.g. the row id the value is stored under). Calls GenerateDataKey only when the cached
        data key is missing or used up; concurrent callers then wait for that one call.

        Raises the error of GenerateDataKey (KeyNotFoundError, FailedPreconditionError for a
        signing key, ...), TooLargeError past AES-GCM's message limit."""
        key = self._encrypt_key(len(plaintext))
        return self._seal(key, plaintext, associated_data)

    def decrypt(self, value: bytes, associated_data: bytes = b"") -> bytes:
        """Opens an envelope value of this envelope's key (made by any client, in any language)
        with the same `associated_data`. Calls Decrypt only to unwrap a data key not in the
        cache. Never returns anything but the authenticated plaintext.

        Raises InvalidCiphertextError for a value that is not an envelope ciphertext of this key,
        AuthenticationFailedError for a modified value or other associated data, the error of
        Decrypt when the data key cannot be unwrapped (VersionRetiredError, ...)."""
        parsed = self._parse(value)
        return self._open(self._decrypt_key(parsed), parsed, associated_data)

    def encrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        associated_data: bytes = b"",
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> int:
        """Reads `src` to its end and writes its stream ciphertext to `dst`, segment by segment
        in constant memory (about two segments of `segment_size` plaintext bytes, 256 to
        1048576). Returns the number of plaintext bytes. The data key comes from the cache like
        one message of 0 bytes. `dst` is flushed, neither file is closed.

        Raises InvalidArgumentError for a bad `segment_size`, the error of GenerateDataKey, and
        whatever the file objects raise (then the stream in `dst` is incomplete and never
        decrypts)."""
        with self.open_encrypt_writer(dst, associated_data, segment_size=segment_size) as writer:
            chunk = bytearray(writer.segment_size)
            try:
                pump_encrypt(src, writer, chunk, None)
            finally:
                chunk[:] = bytes(len(chunk))
        return writer.plaintext_len

    def open_encrypt_writer(
        self, dst: BinaryIO, associated_data: bytes = b"", *, segment_size: int = DEFAULT_SEGMENT_SIZE
    ) -> EncryptWriter:
        """A writable file object that seals what is written to it into a stream ciphertext on
        `dst` (the header is written now). `close()` (or the end of a `with` block) writes the
        last segment; an exception in the block, or `abort()`, leaves the stream incomplete.
        Errors as `encrypt_stream`."""
        size = check_segment_size(segment_size)
        key = self._encrypt_key(0)
        return EncryptWriter(dst, self._sealer(key, associated_data, size))

    def decrypt_stream(self, src: BinaryIO, dst: BinaryIO, associated_data: bytes = b"") -> int:
        """Reads the stream ciphertext in `src` to its end and writes its plaintext to `dst`,
        segment by segment in constant memory; returns the number of plaintext bytes. Each
        segment's plaintext is written once it is authenticated, before the end of the stream
        is checked: if this raises, treat what `dst` received as incomplete (e.g. write to a
        temporary file and rename it on success).

        Raises InvalidCiphertextError for a malformed header or another key's stream,
        AuthenticationFailedError for any modified, reordered, duplicated, missing or extra
        segment, a truncated stream or other associated data, the error of Decrypt when the
        data key cannot be unwrapped."""
        with self.open_decrypt_reader(src, associated_data) as reader:
            chunk = bytearray(reader.segment_size)
            try:
                pump_decrypt(reader, dst, chunk, None)
            finally:
                chunk[:] = bytes(len(chunk))
            return reader.plaintext_len

    def open_decrypt_reader(self, src: BinaryIO, associated_data: bytes = b"") -> DecryptReader:
        """A readable file object of the plaintext of the stream ciphertext in `src` (its
        header is read and its data key found now). Errors as `decrypt_stream`; reads past a
        segment that fails authentication raise AuthenticationFailedError."""
        header = self._stream_header(lambda: read_stream_header(src))
        return DecryptReader(src, SegmentOpener(self._decrypt_key(header), header, associated_data))

    def decrypt_range(self, src: BinaryIO, start: int, end: int, associated_data: bytes = b"") -> bytes:
        """Plaintext bytes [start, end) of the stream ciphertext that runs from the position of
        the seekable `src` to its end, reading and opening only the segments that hold them.
        It authenticates those segments, not the rest of the stream (a truncation it does not
        reach goes unnoticed).

        Raises InvalidArgumentError for a range outside the plaintext, and the errors of
        `decrypt_stream`."""
        plan = self._plan_range(src, start, end)
        opener = SegmentOpener(self._decrypt_key(plan.header), plan.header, associated_data)
        return read_range(src, plan, opener, start, end)

    def warm(self) -> None:
        """Fetches a data key now if none is usable, so the first encryption does not wait."""
        seen = self._fetches.ended
        with self._refill:
            if self._encrypt_cache.is_usable():
                return
            self._encrypt_cache.install(self._fetch(seen), 0, 0)

    def _encrypt_key(self, length: int) -> DataKey:
        key = self._take_encrypt_key(length)
        if key is not None:
            return key
        seen = self._fetches.ended
        with self._refill:
            # Whoever held the gate before us may have fetched a key we can use.
            key = self._take_encrypt_key(length)
            if key is not None:
                return key
            key = self._fetch(seen)
            self._encrypt_cache.install(key, 1, length)
            return key

    def _fetch(self, seen: int) -> DataKey:
        """One GenerateDataKey, called with the gate held; raises the failure of the one this
        caller waited for instead, if that failed."""
        failure = self._fetches.failed_since(seen)
        if failure is not None:
            raise failure
        try:
            key = self._fetched(self._client.generate_data_key(self._generate_request()))
        except RekeyError as e:
            self._fetches.end(e)
            raise
        self._fetches.end(None)
        return key

    def _decrypt_key(self, parsed: EnvelopeValue | StreamHeader) -> DataKey:
        wrapped = parsed.wrapped_key
        key = self._cached(wrapped)
        if key is not None:
            return key
        with self._gates_lock:
            gate, flight = self._gates.setdefault(wrapped, (threading.Lock(), _Flight()))
        with gate:
            key = self._cached(wrapped)
            if key is not None:
                return key
            if flight.failure is not None:
                # The unwrapping we waited for failed (its gate is already released, so the
                # next decryption calls again).
                raise flight.failure
            try:
                return self._unwrapped(parsed, self._client.decrypt(self._unwrap_request(parsed)))
            except RekeyError as e:
                flight.end(e)
                raise
            finally:
                # After the key is cached: a caller arriving now finds it without a gate.
                with self._gates_lock:
                    self._gates.pop(wrapped, None)


class AsyncEnvelope(_EnvelopeCore):
    """`Envelope` for `AsyncClient`: the same caches and guarantees, awaited. Concurrent tasks of
    one event loop share one in-flight GenerateDataKey (or Decrypt of one wrapped key). Made by
    `AsyncClient.envelope`; use it from the event loop its client runs on."""

    def __init__(self, client: AsyncClient, key_name: str, policy: CachePolicy) -> None:
        super().__init__(key_name, policy, client.config.observer)
        self._client = client
        self._refill = asyncio.Lock()
        self._fetches = _Flight()
        self._gates: dict[bytes, tuple[asyncio.Lock, _Flight]] = {}

    async def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        """As `Envelope.encrypt`."""
        key = await self._encrypt_key(len(plaintext))
        return self._seal(key, plaintext, associated_data)

    async def decrypt(self, value: bytes, associated_data: bytes = b"") -> bytes:
        """As `Envelope.decrypt`."""
        parsed = self._parse(value)
        return self._open(await self._decrypt_key(parsed), parsed, associated_data)

    async def encrypt_stream(
        self,
        src: BinaryIO,
        dst: BinaryIO,
        associated_data: bytes = b"",
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
    ) -> int:
        """As `Envelope.encrypt_stream`, with blocking file objects: the data key is awaited,
        the reads, writes and encryption run in a worker thread a few MiB at a time, so the
        event loop stays free and a cancellation stops the stream between batches (leaving it
        incomplete)."""
        size = check_segment_size(segment_size)
        key = await self._encrypt_key(0)
        sealer = self._sealer(key, associated_data, size)
        writer = await asyncio.to_thread(EncryptWriter, dst, sealer)
        chunk = bytearray(size)
        try:
            while not await asyncio.to_thread(pump_encrypt, src, writer, chunk, _ASYNC_BATCH):
                pass
            await asyncio.to_thread(writer.close)
        finally:
            if not writer.closed:
                writer.abort()
            chunk[:] = bytes(size)
        return writer.plaintext_len

    async def decrypt_stream(self, src: BinaryIO, dst: BinaryIO, associated_data: bytes = b"") -> int:
        """As `Envelope.decrypt_stream`, with the work off the event loop as `encrypt_stream`."""
        header = await asyncio.to_thread(self._stream_header, lambda: read_stream_header(src))
        opener = SegmentOpener(await self._decrypt_key(header), header, associated_data)
        reader = DecryptReader(src, opener)
        chunk = bytearray(opener.segment_size)
        try:
            while not await asyncio.to_thread(pump_decrypt, reader, dst, chunk, _ASYNC_BATCH):
                pass
            return reader.plaintext_len
        finally:
            reader.close()
            chunk[:] = bytes(len(chunk))

    async def decrypt_range(self, src: BinaryIO, start: int, end: int, associated_data: bytes = b"") -> bytes:
        """As `Envelope.decrypt_range`, with the file I/O and decryption in a worker thread."""
        plan = await asyncio.to_thread(self._plan_range, src, start, end)
        opener = SegmentOpener(await self._decrypt_key(plan.header), plan.header, associated_data)
        return await asyncio.to_thread(read_range, src, plan, opener, start, end)

    async def warm(self) -> None:
        """As `Envelope.warm`."""
        seen = self._fetches.ended
        async with self._refill:
            if self._encrypt_cache.is_usable():
                return
            self._encrypt_cache.install(await self._fetch(seen), 0, 0)

    async def _encrypt_key(self, length: int) -> DataKey:
        key = self._take_encrypt_key(length)
        if key is not None:
            return key
        seen = self._fetches.ended
        async with self._refill:
            key = self._take_encrypt_key(length)
            if key is not None:
                return key
            key = await self._fetch(seen)
            self._encrypt_cache.install(key, 1, length)
            return key

    async def _fetch(self, seen: int) -> DataKey:
        """As `Envelope._fetch`."""
        failure = self._fetches.failed_since(seen)
        if failure is not None:
            raise failure
        try:
            key = self._fetched(await self._client.generate_data_key(self._generate_request()))
        except RekeyError as e:
            self._fetches.end(e)
            raise
        self._fetches.end(None)
        return key

    async def _decrypt_key(self, parsed: EnvelopeValue | StreamHeader) -> DataKey:
        wrapped = parsed.wrapped_key
        key = self._cached(wrapped)
        if key is not None:
            return key
        gate, flight = self._gates.setdefault(wrapped, (asyncio.Lock(), _Flight()))
        async with gate:
            key = self._cached(wrapped)
            if key is not None:
                return key
            if flight.failure is not None:
                raise flight.failure
            try:
                return self._unwrapped(parsed, await self._client.decrypt(self._unwrap_request(parsed)))
            except RekeyError as e:
                flight.end(e)
                raise
            finally:
                self._gates.pop(wrapped, None)
