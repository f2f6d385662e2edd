"""Reading what a Rekey value is without a network call: its kind, key name and key version are
in its header (docs/ciphertext-format.md), in clear, by design."""

from __future__ import annotations

from dataclasses import dataclass

from ._format import FormatError, Kind, parse_envelope, parse_header, parse_stream_header

__all__ = ["FormatError", "Kind", "ValueInfo", "describe"]


@dataclass(frozen=True)
class ValueInfo:
    """What `describe` read from a value's header. Authenticity is not checked."""

    kind: Kind
    key_name: str
    #: For an envelope or stream ciphertext, the version that wraps its data key.
    key_version: int


def describe(value: bytes) -> ValueInfo:
    """Kind, key name and key version of any Rekey value, checking its whole structure. Raises
    FormatError (its `reason` is the spec's name of the first problem found)."""
    header = parse_header(bytes(value))
    if header.kind is Kind.ENVELOPE_CIPHERTEXT:
        parse_envelope(bytes(value))  # the inner layout: wrapped key, salt, nonce, tag
    elif header.kind is Kind.STREAM_CIPHERTEXT:
        parse_stream_header(bytes(value))  # wrapped key, salt, segment size
    return ValueInfo(header.kind, header.key_name, header.key_version)
