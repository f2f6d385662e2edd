"""Reading Rekey values (docs/ciphertext-format.md): the common header of every kind, the layout
of an envelope ciphertext (kind 0x03) and the header of a stream ciphertext (kind 0x04). Checks run
in the spec's order on the bytes present, and each refusal is named as the spec names it; messages
never contain the value's bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MAGIC = b"RK"
FORMAT_VERSION = 1
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
SALT_LEN = 16
MAX_KEY_NAME_LEN = 64
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


class Kind(enum.IntEnum):
    """What a Rekey value is (byte 3)."""

    CIPHERTEXT = 0x01
    SIGNATURE = 0x02
    ENVELOPE_CIPHERTEXT = 0x03
    STREAM_CIPHERTEXT = 0x04


_KIND_WORDS = {
    Kind.CIPHERTEXT: "an AES-256-GCM ciphertext",
    Kind.SIGNATURE: "an HMAC-SHA256 signature",
    Kind.ENVELOPE_CIPHERTEXT: "an envelope ciphertext",
    Kind.STREAM_CIPHERTEXT: "a stream ciphertext",
}

#: Bounds of a stream's segment size (plaintext bytes per segment), and what writers use.
MIN_SEGMENT_SIZE = 256
MAX_SEGMENT_SIZE = 1 << 20
DEFAULT_SEGMENT_SIZE = 65536


class FormatError(ValueError):
    """A structural problem; `reason` is the spec's name for it (e.g. "TooShort")."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def min_len(kind: Kind, n: int) -> int:
    """The smallest valid length of a value of `kind` with an `n`-byte key name."""
    return {
        Kind.CIPHERTEXT: 21 + n + TAG_LEN,
        Kind.SIGNATURE: 9 + n + 32,
        Kind.ENVELOPE_CIPHERTEXT: 122 + 2 * n,
        # The stream header and one empty last segment (its tag alone).
        Kind.STREAM_CIPHERTEXT: stream_header_len(n) + TAG_LEN,
    }[kind]


def stream_header_len(n: int) -> int:
    """A stream header: common header, wrapped key, salt, segment size (`98 + 2N`)."""
    return 9 + n + wrapped_key_len(n) + SALT_LEN + 4


def wrapped_key_len(n: int) -> int:
    """A wrapped data key: a kind-0x01 ciphertext of 32 bytes (its header, the key, its tag)."""
    return 21 + n + KEY_LEN + TAG_LEN


def validate_key_name(name: str) -> None:
    raw = name.encode("utf-8", "replace")
    if not raw or len(raw) > MAX_KEY_NAME_LEN or any(b not in _NAME_BYTES for b in raw):
        raise FormatError(
            "InvalidKeyName",
            "invalid key name: it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, '_', '.' or '-'",
        )


def _too_short(length: int, need: int) -> FormatError:
    return FormatError("TooShort", f"ciphertext is truncated: {length} bytes, a valid one has at least {need}")


@dataclass(frozen=True)
class Header:
    kind: Kind
    key_name: str
    key_version: int


def parse_header(value: bytes) -> Header:
    """Steps 1-8 of the spec: the common header and the kind's minimum length."""
    header = parse_prefix(value)
    length, n = len(value), len(header.key_name)
    if length < min_len(header.kind, n):
        raise _too_short(length, min_len(header.kind, n))
    if header.kind is Kind.SIGNATURE and length > min_len(header.kind, n):
        raise FormatError(
            "TrailingBytes",
            f"signature has the wrong length: {length} bytes, expected exactly {min_len(header.kind, n)}",
        )
    return header


def parse_prefix(value: bytes) -> Header:
    """Steps 1-7 of the spec: the common header alone (magic to key version), whatever follows."""
    length = len(value)
    if length == 0:
        raise FormatError("Empty", "ciphertext is empty")
    if value[:2] != MAGIC[:length]:
        raise FormatError("BadMagic", 'not a Rekey ciphertext: it does not start with the bytes "RK"')
    if length > 2 and value[2] != FORMAT_VERSION:
        raise FormatError(
            "UnsupportedFormatVersion",
            f"unsupported ciphertext format version {value[2]}; this server reads version 1",
        )
    if length < 4:
        raise _too_short(length, 38)
    try:
        kind = Kind(value[3])
    except ValueError:
        raise FormatError(
            "UnknownKind",
            f"unknown ciphertext kind 0x{value[3]:02x}; expected 0x01 (AES-256-GCM ciphertext), "
            "0x02 (HMAC-SHA256 signature), 0x03 (envelope ciphertext) or 0x04 (stream ciphertext)",
        ) from None
    if length < 5:
        raise _too_short(length, min_len(kind, 1))
    n = value[4]
    if n == 0 or n > MAX_KEY_NAME_LEN:
        validate_key_name("")  # raises InvalidKeyName
    if length < 5 + n:
        raise _too_short(length, min_len(kind, n))
    name = value[5 : 5 + n]
    if any(b not in _NAME_BYTES for b in name):
        validate_key_name("\x00")
    if length < 9 + n:
        raise _too_short(length, min_len(kind, n))
    version = int.from_bytes(value[5 + n : 9 + n], "big")
    if version == 0:
        raise FormatError("ZeroKeyVersion", "invalid key version 0: key versions start at 1")
    return Header(kind, name.decode("ascii"), version)


def check_wrapped_key(wrapped: bytes, key_name: str, key_version: int | None) -> int:
    """That `wrapped` is a kind-0x01 ciphertext of a 32-byte key under `key_name` (and
    `key_version` when given); returns its version. Raises FormatError WrappedKeyMismatch."""
    try:
        inner = parse_header(wrapped)
    except FormatError:
        inner = None
    if (
        inner is None
        or inner.kind is not Kind.CIPHERTEXT
        or inner.key_name != key_name
        or (key_version is not None and inner.key_version != key_version)
        or len(wrapped) != wrapped_key_len(len(key_name))
    ):
        raise FormatError(
            "WrappedKeyMismatch",
            "wrapped data key does not fit: it must be a Rekey AES-256-GCM ciphertext (kind 0x01) "
            "of a 32-byte key, made by GenerateDataKey or Rewrap under the same key name (and, "
            "for a new data key, the same key version)",
        )
    return inner.key_version


@dataclass(frozen=True)
class EnvelopeValue:
    """The parts of an envelope ciphertext (views into the value, nothing secret)."""

    key_name: str
    key_version: int
    #: Bytes [0, 5+N): magic, format version, kind, N and the key name; part of the payload AAD.
    bound_prefix: bytes
    wrapped_key: bytes
    salt: bytes
    nonce: bytes
    #: The AES-GCM ciphertext and its 16-byte tag.
    body: bytes


def parse_envelope(value: bytes) -> EnvelopeValue:
    """Parses an envelope ciphertext, checking its embedded wrapped key (step 9)."""
    header = parse_header(value)
    if header.kind is not Kind.ENVELOPE_CIPHERTEXT:
        raise FormatError(
            "NotEnvelopeCiphertext",
            f"not an envelope ciphertext: found {_KIND_WORDS[header.kind]}, expected kind 0x03",
        )
    n = len(header.key_name)
    wrapped_end = 9 + n + wrapped_key_len(n)
    wrapped = _embedded_wrapped_key(value, header)
    return EnvelopeValue(
        key_name=header.key_name,
        key_version=header.key_version,
        bound_prefix=bytes(value[: 5 + n]),
        wrapped_key=wrapped,
        salt=bytes(value[wrapped_end : wrapped_end + SALT_LEN]),
        nonce=bytes(value[wrapped_end + SALT_LEN : wrapped_end + SALT_LEN + NONCE_LEN]),
        body=bytes(value[wrapped_end + SALT_LEN + NONCE_LEN :]),
    )


def _embedded_wrapped_key(value: bytes, header: Header) -> bytes:
    """Bytes [9+N, 78+2N) of an envelope or stream ciphertext, checked against its header
    (step 9)."""
    n = len(header.key_name)
    wrapped = bytes(value[9 + n : 9 + n + wrapped_key_len(n)])
    try:
        check_wrapped_key(wrapped, header.key_name, header.key_version)
    except FormatError:
        raise FormatError(
            "InvalidWrappedKey",
            "envelope ciphertext is malformed: its embedded data key must be a Rekey AES-256-GCM "
            "ciphertext (kind 0x01) of a 32-byte key under the key name and key version in the "
            "envelope's header",
        ) from None
    return wrapped


def _not_stream(kind: Kind) -> FormatError:
    return FormatError("NotStreamCiphertext", f"not a stream ciphertext: found {_KIND_WORDS[kind]}, expected kind 0x04")


def invalid_segment_size(segment_size: int) -> FormatError:
    return FormatError(
        "InvalidSegmentSize",
        f"stream ciphertext has an invalid segment size of {segment_size} bytes; it must be between "
        f"{MIN_SEGMENT_SIZE} and {MAX_SEGMENT_SIZE}",
    )


@dataclass(frozen=True)
class StreamHeader:
    """The header of a stream ciphertext (nothing secret)."""

    key_name: str
    key_version: int
    #: Bytes [0, 5+N): magic, format version, kind, N and the key name; part of every segment's AAD.
    bound_prefix: bytes
    wrapped_key: bytes
    salt: bytes
    #: Plaintext bytes per segment (S).
    segment_size: int

    @property
    def length(self) -> int:
        """`98 + 2N`: where segment 0 starts."""
        return stream_header_len(len(self.key_name))


def stream_header_len_from_prefix(first_five: bytes) -> int:
    """The length of a stream header from its first five bytes (magic, version, kind, N), so a
    reader knows how much to read before `parse_stream_header`. Raises the common header's
    FormatError for those bytes, NotStreamCiphertext for another kind."""
    try:
        parse_prefix(first_five)
    except FormatError as e:
        # Five bytes never hold a whole header: TooShort means the fields present were valid.
        if e.reason != "TooShort" or len(first_five) < 5:
            raise
    if first_five[3] != Kind.STREAM_CIPHERTEXT:
        raise _not_stream(Kind(first_five[3]))
    return stream_header_len(first_five[4])


def parse_stream_header(value: bytes) -> StreamHeader:
    """Parses the stream header at the start of `value`, which may hold segments after it or end
    with the header (a reader parses it before any segment). TooShort when `value` ends inside
    the header (its `need` is the smallest whole stream); InvalidWrappedKey (step 9),
    InvalidSegmentSize (step 10)."""
    header = parse_prefix(value)
    if header.kind is not Kind.STREAM_CIPHERTEXT:
        raise _not_stream(header.kind)
    n = len(header.key_name)
    end = stream_header_len(n)
    if len(value) < end:
        raise _too_short(len(value), min_len(Kind.STREAM_CIPHERTEXT, n))
    wrapped = _embedded_wrapped_key(value, header)
    salt_at = 9 + n + wrapped_key_len(n)
    segment_size = int.from_bytes(value[salt_at + SALT_LEN : end], "big")
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise invalid_segment_size(segment_size)
    return StreamHeader(
        key_name=header.key_name,
        key_version=header.key_version,
        bound_prefix=bytes(value[: 5 + n]),
        wrapped_key=wrapped,
        salt=bytes(value[salt_at : salt_at + SALT_LEN]),
        segment_size=segment_size,
    )
