#!/usr/bin/env python3
"""Writes tests/vectors/envelope-made-by-python.json: values sealed by this client's real seal
path (random salt and nonce) under the data key and wrapped key of the "worked example" vector of
envelope-v1.json, so the other clients' suites can open them (the wrapped key is a genuine
kind-0x01 value; its data key is given in the file).

Run: python scripts/make_vectors.py   (then commit the output)
"""

from __future__ import annotations

import json
from pathlib import Path

from rekey_client._data_key import DataKey

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = REPO_ROOT / "tests" / "vectors"

CASES: list[tuple[str, bytes, bytes]] = [
    ("short text, row id as associated data", b"hello from python", b"row=42"),
    ("empty plaintext", b"", b"row=43"),
    ("empty associated data", b"no associated data", b""),
    ("empty plaintext and empty associated data", b"", b""),
    ("1 KiB plaintext", bytes(range(256)) * 4, b"row=1024"),
    ("binary associated data (every byte value)", b"\x00\xff binary-safe \x00", bytes(range(256))),
    ("utf-8 plaintext", "cl\u00e9 secr\u00e8te \u2013 \u9375".encode(), b"tenant=7/user=9"),
]


def main() -> None:
    spec = json.loads((VECTORS / "envelope-v1.json").read_text())
    worked = next(c for c in spec if c["description"] == "worked example")
    key = DataKey(worked["key_name"], worked["key_version"], bytes.fromhex(worked["data_key_hex"]),
                  bytes.fromhex(worked["wrapped_key_hex"]))  # fmt: skip
    out = {
        "made_by": "python",
        "key_name": worked["key_name"],
        "key_version": worked["key_version"],
        "data_key_hex": worked["data_key_hex"],
        "wrapped_key_hex": worked["wrapped_key_hex"],
        "cases": [
            {
                "description": description,
                "plaintext_hex": plaintext.hex(),
                "associated_data_hex": ad.hex(),
                "value_hex": key.seal(plaintext, ad).hex(),
            }
            for description, plaintext, ad in CASES
        ],
    }
    path = VECTORS / "envelope-made-by-python.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {len(CASES)} values to {path}")


if __name__ == "__main__":
    main()
