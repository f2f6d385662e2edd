"""Stream ciphertexts (kind 0x04) without a server: the envelope's stream calls under a data key
made locally and put in its caches. Round trips at the segment edges, every tampering the format
says it detects, byte ranges (and which bytes they read), the format errors, and the writer's and
reader's file-object behaviour."""

from __future__ import annotations

import gc
import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rekey_client import (
    AuthenticationFailedError,
    DecryptReader,
    EncryptWriter,
    Envelope,
    InvalidArgumentError,
    InvalidCiphertextError,
    Kind,
    describe,
)
from rekey_client._data_key import DataKey
from rekey_client._format import FormatError, parse_envelope, parse_header, parse_stream_header
from rekey_client._stream import STREAM_AUTH_MESSAGE, StreamLayout

from .stream_support import CountingReader, Trickle, local_data_key, offline_envelope

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

S = 256
NAME = "files.backup"
N = len(NAME)
H = 98 + 2 * N  # 122


@pytest.fixture(scope="module")
def key() -> DataKey:
    return local_data_key(NAME)


@pytest.fixture
def envelope(key: DataKey) -> Envelope:
    with offline_envelope(key) as e:
        return e


def seal(envelope: Envelope, data: bytes, ad: bytes = b"", segment_size: int = S) -> bytes:
    out = io.BytesIO()
    assert envelope.encrypt_stream(io.BytesIO(data), out, ad, segment_size=segment_size) == len(data)
    return out.getvalue()


def unseal(envelope: Envelope, value: bytes, ad: bytes = b"") -> bytes:
    out = io.BytesIO()
    assert envelope.decrypt_stream(io.BytesIO(value), out, ad) == len(out.getvalue())
    return out.getvalue()


def segments(value: bytes, segment_size: int = S) -> tuple[bytes, list[bytes]]:
    """The header and the segments of a stream (by its length, as a range reader splits it)."""
    body = value[H:]
    full = segment_size + 16
    return value[:H], [body[i : i + full] for i in range(0, len(body), full)]


def reseal(key: DataKey, value: bytes, index: int, plaintext: bytes, last: bool, ad: bytes = b"") -> bytes:
    """Segment `index` of `value`'s stream sealed anew with a chosen last flag: what only a holder
    of the stream key could make."""
    salt = value[H - 20 : H - 4]
    aad = value[: 5 + N] + salt + value[H - 4 : H] + ad
    nonce = bytes(7) + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")
    return AESGCM(key.stream_key(salt)).encrypt(nonce, plaintext, aad)


def assert_refused(envelope: Envelope, value: bytes, ad: bytes = b"") -> None:
    """Refused by every way of reading it, with the contract's message."""
    with pytest.raises(AuthenticationFailedError) as refused:
        unseal(envelope, value, ad)
    assert refused.value.message == STREAM_AUTH_MESSAGE
    with pytest.raises(AuthenticationFailedError), envelope.open_decrypt_reader(io.BytesIO(value), ad) as reader:
        reader.read()


# Round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, S - 1, S, S + 1, 2 * S, 2 * S + 1, 5 * S + 77])
def test_round_trips_at_the_segment_edges(envelope: Envelope, size: int) -> None:
    data = os.urandom(size)
    value = seal(envelope, data, b"row=1")
    segments_count = max(1, -(-size // S))
    assert len(value) == H + size + 16 * segments_count, "T = H + P + 16 * max(1, ceil(P / S))"
    assert value[3] == Kind.STREAM_CIPHERTEXT and value[H - 4 : H] == S.to_bytes(4, "big")
    assert unseal(envelope, value, b"row=1") == data
    # Through the file objects, written and read in odd pieces, from a source that trickles.
    out = io.BytesIO()
    with envelope.open_encrypt_writer(out, b"row=1", segment_size=S) as writer:
        for i in range(0, size, 97):
            writer.write(data[i : i + 97])
    assert writer.plaintext_len == size and len(out.getvalue()) == len(value)
    for step in (1, 7, S + 16, 1000):
        with envelope.open_decrypt_reader(Trickle(out.getvalue(), step), b"row=1") as reader:  # type: ignore[arg-type]
            assert read_in_pieces(reader, 41) == data


def read_in_pieces(reader: DecryptReader, size: int) -> bytes:
    pieces = []
    while piece := reader.read(size):
        assert len(piece) <= size
        pieces.append(piece)
    return b"".join(pieces)


def test_the_default_segment_size_and_a_large_one(envelope: Envelope) -> None:
    data = os.urandom(3 * 65536 + 5)
    value = seal(envelope, data, segment_size=65536)
    assert len(value) == H + len(data) + 16 * 4
    out = io.BytesIO()
    envelope.encrypt_stream(io.BytesIO(data), out)
    assert out.getvalue()[H - 4 : H] == (65536).to_bytes(4, "big"), "65536 unless told otherwise"
    assert unseal(envelope, out.getvalue()) == data
    big = seal(envelope, data, segment_size=1 << 20)
    assert len(big) == H + len(data) + 16 and unseal(envelope, big) == data


def test_readinto_read1_and_readline_work_on_the_reader(envelope: Envelope) -> None:
    data = b"".join(b"line %d\n" % i for i in range(200))
    value = seal(envelope, data)
    with envelope.open_decrypt_reader(io.BytesIO(value)) as reader:
        assert isinstance(reader, DecryptReader) and reader.readable() and not reader.writable()
        assert reader.readline() == b"line 0\n"
        buf = bytearray(10)
        assert reader.readinto(buf) == 10 and bytes(buf) == data[7:17]
        assert reader.read1(5) == data[17:22]
        assert reader.read(0) == b"" and reader.read1(0) == b""
        assert reader.read(3) == data[22:25]
        assert reader.read(1 << 40) == data[25:], "a size past the end is not allocated"
        assert reader.read() == b"" and reader.read(5) == b"" and reader.read1() == b""
    with pytest.raises(ValueError, match="closed"):
        reader.read()
    with envelope.open_decrypt_reader(io.BufferedReader(Trickle(value, 3))) as reader:
        assert list(reader) == data.splitlines(keepends=True)


def test_every_stream_has_its_own_salt(envelope: Envelope) -> None:
    a, b = seal(envelope, b"same"), seal(envelope, b"same")
    assert a[: H - 20] == b[: H - 20], "same key, version and wrapped data key"
    assert a[H - 20 : H - 4] != b[H - 20 : H - 4] and a[H:] != b[H:]


# Tampering --------------------------------------------------------------------------------------

PAYLOAD = bytes(range(256)) * 2 + b"tail" * 22  # 600 bytes: segments of 256, 256 and 88


@pytest.fixture
def value(envelope: Envelope) -> bytes:
    v = seal(envelope, PAYLOAD, b"ad")
    assert len(v) == H + 600 + 48 == 770, "the spec's example: 272 + 272 + 104 bytes of segments"
    return v


def test_the_untampered_value_opens(envelope: Envelope, value: bytes) -> None:
    assert unseal(envelope, value, b"ad") == PAYLOAD


def test_truncation_at_each_segment_boundary_is_refused(envelope: Envelope, value: bytes) -> None:
    header, segs = segments(value)
    for keep in range(len(segs)):
        assert_refused(envelope, header + b"".join(segs[:keep]), b"ad")


def test_truncation_inside_a_segment_is_refused(envelope: Envelope, value: bytes) -> None:
    for cut in (H + 1, H + 15, H + 16, H + 100, H + 271, H + 273, H + 300, len(value) - 16, len(value) - 1):
        assert_refused(envelope, value[:cut], b"ad")


def test_reordered_duplicated_dropped_and_appended_segments_are_refused(envelope: Envelope, value: bytes) -> None:
    header, (s0, s1, s2) = segments(value)
    for body in (
        s1 + s0 + s2,  # reordered
        s0 + s0 + s1 + s2,  # duplicated
        s0 + s1 + s1 + s2,
        s0 + s2,  # dropped
        s1 + s2,
        s0 + s1 + s2 + s2,  # appended: the last segment again
        s0 + s1 + s2 + b"\x00",  # appended: one byte
        s0 + s1 + s2 + s0,
    ):
        assert_refused(envelope, header + body, b"ad")


def test_flipped_last_flags_are_refused(envelope: Envelope, key: DataKey, value: bytes) -> None:
    header, (s0, s1, _) = segments(value)
    # The real last segment sealed as a non-last one: the stream reads as truncated.
    not_last = reseal(key, value, 2, PAYLOAD[512:], last=False, ad=b"ad")
    assert_refused(envelope, header + s0 + s1 + not_last, b"ad")
    # A middle segment sealed as the last one, with the real last after it: extended.
    early_last = reseal(key, value, 1, PAYLOAD[256:512], last=True, ad=b"ad")
    assert_refused(envelope, header + s0 + early_last + segments(value)[1][2], b"ad")
    # Sanity of the helper: the segment resealed with its true flag opens.
    honest = reseal(key, value, 2, PAYLOAD[512:], last=True, ad=b"ad")
    assert unseal(envelope, header + s0 + s1 + honest, b"ad") == PAYLOAD


def test_other_associated_data_and_changed_bytes_are_refused(envelope: Envelope, value: bytes) -> None:
    assert_refused(envelope, value, b"")
    assert_refused(envelope, value, b"ad2")
    for at in (H - 20, H - 5, H, H + 255, H + 271, H + 272, len(value) - 1):  # salt, S, segments, tags
        tampered = bytearray(value)
        tampered[at] ^= 0x01
        assert_refused(envelope, bytes(tampered), b"ad")
    other_size = bytearray(value)
    other_size[H - 4 : H] = (S + 1).to_bytes(4, "big")
    assert_refused(envelope, bytes(other_size), b"ad")


def test_a_segment_that_fails_is_never_released(envelope: Envelope, value: bytes) -> None:
    tampered = bytearray(value)
    tampered[H + 272 + 5] ^= 0x80  # inside segment 1
    out = io.BytesIO()
    with pytest.raises(AuthenticationFailedError):
        envelope.decrypt_stream(io.BytesIO(bytes(tampered)), out, b"ad")
    assert out.getvalue() == PAYLOAD[:256], "only segment 0, which authenticated"
    with (
        envelope.open_decrypt_reader(io.BytesIO(bytes(tampered)), b"ad") as reader,
        pytest.raises(AuthenticationFailedError),
    ):
        reader.read(300)  # needs segment 1
    with envelope.open_decrypt_reader(io.BytesIO(bytes(tampered)), b"ad") as reader:
        assert reader.read(256) == PAYLOAD[:256]
        with pytest.raises(AuthenticationFailedError):
            reader.read(1)
        with pytest.raises(AuthenticationFailedError):
            reader.read(1)  # and stays failed
        assert reader._plain == bytearray(S), "the buffer was wiped"


def test_a_stream_cut_inside_its_header_or_at_its_end_is_refused(envelope: Envelope, value: bytes) -> None:
    assert_refused(envelope, value[:H], b"ad")  # a header and no segment at all
    for cut in (0, 1, 4, 5, 20, H - 1):
        with pytest.raises(InvalidCiphertextError) as refused:
            unseal(envelope, value[:cut], b"ad")
        assert isinstance(refused.value.__cause__, FormatError)
        assert refused.value.__cause__.reason == ("Empty" if cut == 0 else "TooShort")


# Format errors ----------------------------------------------------------------------------------


def test_other_kinds_and_malformed_headers_are_invalid_ciphertexts(envelope: Envelope, value: bytes) -> None:
    an_envelope_value = envelope.encrypt(b"not a stream")
    cases: list[tuple[bytes, str]] = [
        (an_envelope_value, "NotStreamCiphertext"),
        (local_data_key(NAME).wrapped_key, "NotStreamCiphertext"),
        (b"RK\x01\x02\x08webhooks" + bytes(35), "NotStreamCiphertext"),
        (b"garbage", "BadMagic"),
        (b"RK\x02\x04", "UnsupportedFormatVersion"),
        (b"RK\x01\x05" + value[4:], "UnknownKind"),
        (value[:4] + b"\x00" + value[5:], "InvalidKeyName"),
        (value[:4] + b"\x41" + value[5:], "InvalidKeyName"),
        (value[:9] + b" " + value[10:], "InvalidKeyName"),
        (value[: 5 + N] + bytes(4) + value[9 + N :], "ZeroKeyVersion"),
        (value[: 5 + N] + (8).to_bytes(4, "big") + value[9 + N :], "InvalidWrappedKey"),
        (value[: 9 + N + 3] + b"\x03" + value[9 + N + 4 :], "InvalidWrappedKey"),
        (value[: H - 4] + (255).to_bytes(4, "big") + value[H:], "InvalidSegmentSize"),
        (value[: H - 4] + bytes(4) + value[H:], "InvalidSegmentSize"),
        (value[: H - 4] + ((1 << 20) + 1).to_bytes(4, "big") + value[H:], "InvalidSegmentSize"),
    ]
    for bad, reason in cases:
        reads: list[Callable[[bytes], bytes]] = [
            lambda v: unseal(envelope, v, b"ad"),
            lambda v: envelope.decrypt_range(io.BytesIO(v), 0, 0, b"ad"),
        ]
        for read in reads:
            with pytest.raises(InvalidCiphertextError) as refused:
                read(bad)
            cause = refused.value.__cause__
            assert isinstance(cause, FormatError) and cause.reason == reason, (reason, cause)
            assert bad.hex()[:40] not in str(refused.value), "errors never echo the value"
    with pytest.raises(InvalidCiphertextError, match="not a stream ciphertext: found an envelope ciphertext"):
        unseal(envelope, an_envelope_value)


def test_the_messages_are_the_specs() -> None:
    with pytest.raises(FormatError, match=r"found an envelope ciphertext, expected kind 0x04$"):
        parse_stream_header(b"RK\x01\x03\x01a\x00\x00\x00\x01" + bytes(200))
    with pytest.raises(FormatError) as unknown:
        parse_header(b"RK\x01\x05\x01a\x00\x00\x00\x01" + bytes(200))
    assert str(unknown.value) == (
        "unknown ciphertext kind 0x05; expected 0x01 (AES-256-GCM ciphertext), 0x02 (HMAC-SHA256 signature), "
        "0x03 (envelope ciphertext) or 0x04 (stream ciphertext)"
    )


def test_a_stream_of_another_key_is_refused(value: bytes) -> None:
    with offline_envelope(local_data_key("other.key")) as other, pytest.raises(InvalidCiphertextError, match="key"):
        unseal(other, value, b"ad")


def test_describe_reads_a_stream_and_the_envelope_parser_refuses_it(value: bytes) -> None:
    info = describe(value)
    assert (info.kind, info.key_name, info.key_version) == (Kind.STREAM_CIPHERTEXT, NAME, 7)
    with pytest.raises(FormatError) as refused:
        parse_envelope(value)
    assert refused.value.reason == "NotEnvelopeCiphertext"
    assert str(refused.value) == "not an envelope ciphertext: found a stream ciphertext, expected kind 0x03"
    with pytest.raises(FormatError) as short:
        describe(value[: H + 15])
    assert short.value.reason == "TooShort" and str(short.value).endswith(f"at least {H + 16}")
    with pytest.raises(FormatError) as size:
        describe(value[: H - 4] + (100).to_bytes(4, "big") + value[H:])
    assert size.value.reason == "InvalidSegmentSize"
    assert str(size.value) == (
        "stream ciphertext has an invalid segment size of 100 bytes; it must be between 256 and 1048576"
    )


@pytest.mark.parametrize("bad", [0, 1, 255, (1 << 20) + 1, -65536, 1 << 40, True, 256.0, "65536"])
def test_a_bad_segment_size_is_an_invalid_argument(envelope: Envelope, bad: object) -> None:
    out = io.BytesIO()
    with pytest.raises(InvalidArgumentError):
        envelope.encrypt_stream(io.BytesIO(b"x"), out, segment_size=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        envelope.open_encrypt_writer(out, segment_size=bad)  # type: ignore[arg-type]
    assert out.getvalue() == b"", "nothing written"


# Byte ranges ------------------------------------------------------------------------------------

RANGE_DATA = os.urandom(1000)  # segments of 256, 256, 256 and 232


@pytest.fixture
def big(envelope: Envelope) -> bytes:
    return seal(envelope, RANGE_DATA, b"ad")


RANGES = [(0, 1), (999, 1000), (0, 1000), (255, 257), (256, 512), (300, 900), (10, 10), (0, 0), (1000, 1000)]
RANGES += [(511, 769), (768, 1000), (100, 200)]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_a_range_is_exactly_the_slice_and_reads_only_its_segments(
    envelope: Envelope, big: bytes, start: int, end: int
) -> None:
    src = CountingReader(big)
    assert envelope.decrypt_range(src, start, end, b"ad") == RANGE_DATA[start:end]  # type: ignore[arg-type]
    needed = 0 if start == end else (end - 1) // S - start // S + 1
    assert src.bytes_read <= H + needed * (S + 16), (src.bytes_read, needed)
    if needed == 0:
        assert src.bytes_read == H, "an empty range reads the header alone"


def test_a_range_starts_at_the_sources_position(envelope: Envelope, big: bytes) -> None:
    src = io.BytesIO(b"some other record" + big)
    src.seek(17)
    assert envelope.decrypt_range(src, 250, 260, b"ad") == RANGE_DATA[250:260]


@pytest.mark.parametrize(("start", "end"), [(5, 4), (-1, 3), (0, 1001), (1000, 1001), (2000, 3000)])
def test_a_range_outside_the_plaintext_is_an_invalid_argument(
    envelope: Envelope, big: bytes, start: int, end: int
) -> None:
    with pytest.raises(InvalidArgumentError):
        envelope.decrypt_range(io.BytesIO(big), start, end, b"ad")


def test_a_range_authenticates_the_segments_it_reads(envelope: Envelope, big: bytes) -> None:
    with pytest.raises(AuthenticationFailedError):
        envelope.decrypt_range(io.BytesIO(big), 0, 10, b"other")
    tampered = bytearray(big)
    tampered[H + 2 * (S + 16) + 3] ^= 1  # segment 2
    assert envelope.decrypt_range(io.BytesIO(bytes(tampered)), 0, 512, b"ad") == RANGE_DATA[:512]
    with pytest.raises(AuthenticationFailedError) as refused:
        envelope.decrypt_range(io.BytesIO(bytes(tampered)), 500, 520, b"ad")
    assert refused.value.message == STREAM_AUTH_MESSAGE
    # Cut at a segment boundary: what is now the end does not open as the last segment...
    cut = big[: H + 3 * (S + 16)]
    with pytest.raises(AuthenticationFailedError):
        envelope.decrypt_range(io.BytesIO(cut), 700, 768, b"ad")
    # ...but a range that does not reach it cannot tell (the spec says so).
    assert envelope.decrypt_range(io.BytesIO(cut), 0, 100, b"ad") == RANGE_DATA[:100]
    for short in (big[: H + 10], big[: H + 3 * (S + 16) + 5]):  # the last segment cut inside its tag
        with pytest.raises(AuthenticationFailedError):
            envelope.decrypt_range(io.BytesIO(short), 0, 0, b"ad")


def test_the_layout_math() -> None:
    header = parse_stream_header(
        b"RK\x01\x04\x0c"
        + NAME.encode()
        + (7).to_bytes(4, "big")
        + local_data_key(NAME).wrapped_key
        + bytes(16)
        + (256).to_bytes(4, "big")
    )
    layout = StreamLayout.of(header, 770)
    assert (layout.segments, layout.plaintext_len) == (3, 600)
    assert [layout.segment(i) for i in range(3)] == [(122, 394, False), (394, 666, False), (666, 770, True)]
    assert layout.segments_for(0, 600) == range(3) and layout.segments_for(255, 257) == range(2)
    assert layout.segments_for(256, 256) == range(0) and layout.segments_for(512, 513) == range(2, 3)
    assert StreamLayout.of(header, H + 16).plaintext_len == 0
    assert StreamLayout.of(header, H + 272).segments == 1 and StreamLayout.of(header, H + 288).segments == 2
    for bad in (H, H + 15, H + 272 + 15):
        with pytest.raises(AuthenticationFailedError):
            StreamLayout.of(header, bad)


# The writer -------------------------------------------------------------------------------------


def test_an_exception_in_the_with_block_leaves_the_stream_incomplete(envelope: Envelope) -> None:
    out = io.BytesIO()
    writers: list[EncryptWriter] = []

    def produce() -> None:
        with envelope.open_encrypt_writer(out) as writer:
            writers.append(writer)
            writer.write(b"half of the data")
            raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        produce()
    assert writers[0].closed
    assert_refused(envelope, out.getvalue())


def test_abort_and_an_unclosed_writer_never_seal_the_last_segment(envelope: Envelope) -> None:
    out = io.BytesIO()
    writer = envelope.open_encrypt_writer(out, segment_size=S)
    writer.write(os.urandom(3 * S))
    writer.abort()
    with pytest.raises(ValueError, match="closed"):
        writer.write(b"more")
    assert_refused(envelope, out.getvalue())
    out2 = io.BytesIO()
    forgotten = envelope.open_encrypt_writer(out2, segment_size=S)
    forgotten.write(b"never closed")
    del forgotten
    gc.collect()
    assert len(out2.getvalue()) == H, "only the header: the open segment was dropped, not sealed"


def test_the_writer_is_a_file_object_and_close_is_idempotent(envelope: Envelope) -> None:
    out = io.BytesIO()
    writer = envelope.open_encrypt_writer(out, b"ad", segment_size=S)
    assert isinstance(writer, EncryptWriter) and writer.writable() and not writer.readable()
    assert writer.write(memoryview(b"abc")) == 3
    assert writer.write(bytearray(S)) == S
    assert writer.write(b"") == 0
    assert len(out.getvalue()) == H + S + 16, "the first full segment went out once more data came"
    writer.close()
    writer.close()
    assert repr(writer) == "EncryptWriter(segment_size=256, plaintext_len=259)"
    assert unseal(envelope, out.getvalue(), b"ad") == b"abc" + bytes(S)
    assert writer._buf == bytearray(S), "the plaintext buffer was wiped"


def test_a_write_error_breaks_the_writer(envelope: Envelope) -> None:
    class Full(io.BytesIO):
        def write(self, data: ReadableBuffer, /) -> int:
            if self.tell() > H:
                raise OSError("disk full")
            return super().write(data)

    out = Full()
    writer = envelope.open_encrypt_writer(out, segment_size=S)
    writer.write(bytes(S))
    with pytest.raises(OSError, match="disk full"):
        writer.write(bytes(2 * S))
    with pytest.raises(ValueError, match="failed earlier"):
        writer.write(b"x")
    writer.close()  # seals nothing
    with pytest.raises(AuthenticationFailedError):
        unseal(envelope, out.getvalue())
