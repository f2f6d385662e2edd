"""The cross-language live check (run by CI against one server for all clients):

    python -m rekey_client._cross encrypt OUT.json   # 20 values sealed by this client's Envelope
    python -m rekey_client._cross decrypt IN.json    # opens every value of a file made by ANY client

Reads REKEY_ADDR and REKEY_TOKEN (and the other REKEY_* settings) from the environment; the key is
TOKEN_ENCRYPTION. `decrypt` exits 0 when every value opens to its plaintext, else prints which
value failed and exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import CachePolicy, Client, RekeyError

KEY_NAME = "TOKEN_ENCRYPTION"
# Sizes 0, 1, 1 KiB and 100,000 bytes among them, plus odd sizes around AES blocks.
SIZES = [0, 1, 2, 15, 16, 17, 31, 32, 33, 64, 100, 255, 256, 1000, 1023, 1024, 1025, 4096, 65536, 100_000]


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
    out.write_text(json.dumps({"made_by": "python", "key_name": KEY_NAME, "values": values}) + "\n")
    print(f"python: wrote {len(values)} envelope values to {out}")
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
    if failures or not made["values"]:
        print(f"python: {failures} of {len(made['values'])} values made by {who} failed")
        return 1
    print(f"python: opened all {len(made['values'])} values made by {who}")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("encrypt", "decrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path = argv[0], Path(argv[1])
    return encrypt(path) if command == "encrypt" else decrypt(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
