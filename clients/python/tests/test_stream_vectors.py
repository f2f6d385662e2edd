"""Cross-language vectors of stream ciphertexts (tests/vectors/stream-v1.json, made by the Rust
generator), without a server: every stream opens (its data key unwrapped here with the vector's
key material, as the server would), whole, read sequentially in small and odd-sized pieces, and by
byte ranges; this client's writer, given the vector's data key and salt, writes the same bytes;
every invalid value is refused with the spec's error."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from rekey_client import AuthenticationFailedError, Envelope, InvalidCiphertextError
from rekey_client._data_key import DataKey
from rekey_client._format import FormatError, parse_stream_header
from rekey_client._stream import EncryptWriter, SegmentSealer

from .conftest import VECTORS
from .stream_support import Trickle, offline_envelope
from .test_vectors import unwrap_locally

CASES: list[dict[str, Any]] = json.loads((VECTORS / "stream-v1.json").read_text())
STREAMS = [c for c in CASES if c["type"] == "stream"]
INVALID = [c for c in CASES if c["type"] == "invalid"]
h = bytes.fromhex


def data_key_of(case: dict[str, Any]) -> DataKey:
    return DataKey(case["key_name"], case["key_version"], h(case["data_key_hex"]), h(case["wrapped_key_hex"]))


def test_the_file_holds_streams_and_invalid_values() -> None:
    assert len(STREAMS) >= 4 and len(INVALID) >= 8
    assert {c["type"] for c in CASES} == {"stream", "invalid"}


@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c.get("description", c["value_hex"][:16]))
def test_every_stream_vector_opens_and_is_rewritten_byte_for_byte(case: dict[str, Any]) -> None:
    value, plaintext, ad = h(case["value_hex"]), h(case["plaintext_hex"]), h(case["associated_data_hex"])
    size = case["segment_size"]
    header = parse_stream_header(value)
    assert (header.key_name, header.key_version) == (case["key_name"], case["key_version"])
    assert (header.wrapped_key, header.salt, header.segment_size) == (
        h(case["wrapped_key_hex"]),
        h(case["salt_hex"]),
        size,
    )
    assert header.wrapped_key[9 + len(header.key_name) : 21 + len(header.key_name)] == h(case["wrapping_nonce_hex"])
    assert unwrap_locally(header.wrapped_key, h(case["key_material_hex"])) == h(case["data_key_hex"])
    key = data_key_of(case)
    assert key.stream_key(header.salt) == h(case["stream_key_hex"])
    segments = max(1, -(-len(plaintext) // size))
    assert len(value) == header.length + len(plaintext) + 16 * segments

    out = io.BytesIO()
    with EncryptWriter(out, SegmentSealer(key, size, ad, header.salt)) as writer:
        for i in range(0, len(plaintext), 333):
            writer.write(plaintext[i : i + 333])
    assert out.getvalue() == value, "the same data key, salt and segment size give the same bytes"

    with offline_envelope(key) as envelope:
        whole = io.BytesIO()
        assert envelope.decrypt_stream(io.BytesIO(value), whole, ad) == len(plaintext)
        assert whole.getvalue() == plaintext
        for step, piece in ((1, 1), (7, 13), (size + 17, 5), (100, size + 1), (len(value), 3)):
            with envelope.open_decrypt_reader(Trickle(value, step), ad) as reader:  # type: ignore[arg-type]
                pieces = []
                while chunk := reader.read(piece):
                    pieces.append(chunk)
                assert b"".join(pieces) == plaintext, (step, piece)
        p = len(plaintext)
        ranges = {(0, 0), (0, p), (0, min(1, p)), (max(p - 1, 0), p), (p // 3, 2 * p // 3)}
        if p > size:
            ranges |= {(size - 1, size + 1), (size, min(2 * size, p))}
        for start, end in sorted(ranges):
            assert envelope.decrypt_range(io.BytesIO(value), start, end, ad) == plaintext[start:end], (start, end)
        with pytest.raises(AuthenticationFailedError):
            envelope.decrypt_stream(io.BytesIO(value), io.BytesIO(), ad + b"x")


def read_all(envelope: Envelope, src: io.RawIOBase, ad: bytes) -> None:
    """Reads a stream through the reader 7 bytes at a time (it may refuse at open or at a read)."""
    with envelope.open_decrypt_reader(src, ad) as reader:  # type: ignore[arg-type]
        while reader.read(7):
            pass


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.get("description", c["expected_error"]))
def test_every_invalid_stream_vector_is_refused_with_its_error(case: dict[str, Any]) -> None:
    value = h(case["value_hex"])
    expected = case["expected_error"]
    if expected == "AuthenticationFailed":
        header = parse_stream_header(value)
        dk = unwrap_locally(header.wrapped_key, h(case["key_material_hex"]))
        key = DataKey(header.key_name, header.key_version, dk, header.wrapped_key)
        ad = h(case["associated_data_hex"])
        with offline_envelope(key) as envelope:
            out = io.BytesIO()
            with pytest.raises(AuthenticationFailedError):
                envelope.decrypt_stream(io.BytesIO(value), out, ad)
            for step in (1, 5, 1000):
                with pytest.raises(AuthenticationFailedError):
                    read_all(envelope, Trickle(value, step), ad)
        return
    # A structural refusal: InvalidCiphertextError, caused by the spec's named format error, from
    # the sequential reader and from the range reader alike.
    name = STREAMS[0]["key_name"]
    with offline_envelope(DataKey(name, STREAMS[0]["key_version"], bytes(32), h(STREAMS[0]["wrapped_key_hex"]))) as e:
        for read in (
            lambda: e.decrypt_stream(io.BytesIO(value), io.BytesIO(), b""),
            lambda: e.decrypt_range(io.BytesIO(value), 0, 0, b""),
        ):
            with pytest.raises(InvalidCiphertextError) as refused:
                read()
            cause = refused.value.__cause__
            assert isinstance(cause, FormatError)
            assert cause.reason == expected
            if value:
                assert value.hex() not in str(refused.value), "errors never echo the value"
