"""The cross-language live check (run by CI against one server for all clients):

    python -m rekey_client._cross encrypt OUT.json   # 20 values and 5 streams sealed by this client
    python -m rekey_client._cross decrypt IN.json    # opens every value and stream of a file made by ANY client

Reads REKEY_ADDR and REKEY_TOKEN (and the other REKEY_* settings) from the environment; the key is
TOKEN_ENCRYPTION. The file is shared with the Rust and TypeScript drivers:
`{"made_by", "key_name", "values": [{"plaintext_hex", "associated_data_hex", "value_hex"}],
  "streams": [{"plaintext_hex", "associated_data_hex", "segment_size", "value_hex"}]}`.
`decrypt` opens each stream whole (Envelope.decrypt_stream) and one byte range of it
(Envelope.decrypt_range); it exits 0 when every value and stream opens to its plaintext, else
prints which failed and exits 1 (a file without "streams" fails too).
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import CachePolicy, Client, Envelope, RekeyError

KEY_NAME = "TOKEN_ENCRYPTION"
# Sizes 0, 1, 1 KiB and 100,000 bytes among them, plus odd sizes around AES blocks.
SIZES = [0, 1, 2, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 1000, 1023, 1024, 1025, 4096, 65536, 100_000]
# The stream ciphertexts every driver writes: (plaintext length, segment size).
STREAMS = [(0, 256), (1, 256), (256, 256), (1000, 256), (200_000, 65_536)]


def _associated_data(i: int) -> bytes:
    if i % 5 == 0:
        return b""
    if i % 5 == 1:
        return bytes(range(256))[: 7 * i]  # binary
    return f"row={i}".encode()


def encrypt(out: Path) -> int:
    with Client.from_env() as client:
        envelope = client.envelope(KEY_NAME, CachePolicy(max_age=300))
        values = []
        for i, size in enumerate(SIZES):
            plaintext = os.urandom(size)
            ad = _associated_data(i)
            values.append(
                {
                    "plaintext_hex": plaintext.hex(),
                    "associated_data_hex": ad.hex(),
                    "value_hex": envelope.encrypt(plaintext, ad).hex(),
                }
            )
        streams = []
        for i, (size, segment_size) in enumerate(STREAMS):
            plaintext = os.urandom(size)
            ad = f"file={i}".encode()
            sink = io.BytesIO()
            envelope.encrypt_stream(io.BytesIO(plaintext), sink, ad, segment_size=segment_size)
            streams.append(
                {
                    "plaintext_hex": plaintext.hex(),
                    "associated_data_hex": ad.hex(),
                    "segment_size": segment_size,
                    "value_hex": sink.getvalue().hex(),
                }
            )
    made = {"made_by": "python", "key_name": KEY_NAME, "values": values, "streams": streams}
    out.write_text(json.dumps(made) + "\n")
    print(f"python: wrote {len(values)} envelope values and {len(streams)} streams to {out}")
    return 0


def decrypt(path: Path) -> int:
    made = json.loads(path.read_text())
    who, key_name = made.get("made_by", "?"), made.get("key_name", KEY_NAME)
    failures = 0
    with Client.from_env() as client:
        envelope = client.envelope(key_name, CachePolicy(max_age=300))
        for i, value in enumerate(made["values"]):
            try:
                opened = envelope.decrypt(
                    bytes.fromhex(value["value_hex"]), bytes.fromhex(value["associated_data_hex"])
                )
            except RekeyError as e:
                print(f"python: value {i} made by {who} failed to decrypt: {e!r}")
                failures += 1
                continue
            if opened != bytes.fromhex(value["plaintext_hex"]):
                print(f"python: value {i} made by {who} decrypted to other bytes than its plaintext")
                failures += 1
        streams: Any = made.get("streams")
        if not isinstance(streams, list):
            streams = []
            print(f"python: {path} has no streams")
        stream_failures = sum(not _open_stream(envelope, i, stream, who) for i, stream in enumerate(streams))
    if failures or not made["values"] or stream_failures or not streams:
        print(f"python: {failures} of {len(made['values'])} values made by {who} failed")
        print(f"python: {stream_failures} of {len(streams)} streams made by {who} failed")
        return 1
    print(f"python: opened all {len(made['values'])} values and {len(streams)} streams made by {who}")
    return 0


def _open_stream(envelope: Envelope, i: int, stream: dict[str, Any], who: str) -> bool:
    """Opens one stream whole and the byte range [len/3, len - len/4) of it; True when both
    give its plaintext, else prints what failed."""
    value = bytes.fromhex(stream["value_hex"])
    ad = bytes.fromhex(stream["associated_data_hex"])
    plaintext = bytes.fromhex(stream["plaintext_hex"])
    start, end = len(plaintext) // 3, len(plaintext) - len(plaintext) // 4
    try:
        sink = io.BytesIO()
        envelope.decrypt_stream(io.BytesIO(value), sink, ad)
    except RekeyError as e:
        print(f"python: stream {i} made by {who} failed to decrypt: {e!r}")
        return False
    try:
        part = envelope.decrypt_range(io.BytesIO(value), start, end, ad)
    except RekeyError as e:
        print(f"python: bytes {start}..{end} of stream {i} made by {who} failed to decrypt: {e!r}")
        return False
    if sink.getvalue() != plaintext:
        print(f"python: stream {i} made by {who} decrypted to other bytes than its plaintext")
        return False
    if part != plaintext[start:end]:
        print(f"python: bytes {start}..{end} of stream {i} made by {who} decrypted to other bytes")
        return False
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("encrypt", "decrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv[0], Path(argv[1])
    return encrypt(path) if command == "encrypt" else decrypt(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
