#!/usr/bin/env python3
"""Independent check of Rekey's format-v1 test vectors, written from
docs/ciphertext-format.md alone (it shares no code with the Rust crate).

Checks tests/vectors/ciphertext-v1.json (kinds 0x01 and 0x02),
tests/vectors/envelope-v1.json (kind 0x03, envelope ciphertexts) and
tests/vectors/stream-v1.json (kind 0x04, stream ciphertexts): every
valid vector is rebuilt byte for byte and opened, every invalid one is
refused with the error class the vector names. Uses only Python's standard
library and the `cryptography` package (pinned in requirements.txt).

Run: python3 tests/vectors/check_envelope_vectors.py   (exit status 0 = pass)
"""

import hashlib
import hmac
import json
import pathlib
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = pathlib.Path(__file__).resolve().parent
DATA_KEY_AAD = b"rekey/v1 envelope data key"
MESSAGE_KEY_LABEL = b"rekey/v1 envelope message key"
STREAM_KEY_LABEL = b"rekey/v1 stream segment key"
NAME_BYTES = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


class Refused(Exception):
    """A value was refused; args[0] is the error name the spec uses."""


def min_len(kind, n):
    return {1: 21 + n + 16, 2: 9 + n + 32, 3: 122 + 2 * n, 4: 98 + 2 * n + 16}[kind]


def parse_header(value):
    """The spec's checks 1-7 plus the minimum length: (kind, name, version)."""
    if not value:
        raise Refused("Empty")
    if value[:2] != b"RK"[: len(value)]:
        raise Refused("BadMagic")
    if len(value) > 2 and value[2] != 1:
        raise Refused("UnsupportedFormatVersion")
    if len(value) < 4:
        raise Refused("TooShort")
    kind = value[3]
    if kind not in (1, 2, 3, 4):
        raise Refused("UnknownKind")
    if len(value) < 5:
        raise Refused("TooShort")
    n = value[4]
    if n == 0 or n > 64:
        raise Refused("InvalidKeyName")
    name = value[5 : 5 + n]
    if len(name) < n:
        raise Refused("TooShort")
    if any(b not in NAME_BYTES for b in name):
        raise Refused("InvalidKeyName")
    if len(value) < 9 + n:
        raise Refused("TooShort")
    version = int.from_bytes(value[5 + n : 9 + n], "big")
    if version == 0:
        raise Refused("ZeroKeyVersion")
    if len(value) < min_len(kind, n):
        raise Refused("TooShort")
    if kind == 2 and len(value) > min_len(kind, n):
        raise Refused("TrailingBytes")
    return kind, name.decode("ascii"), version


def decrypt_ciphertext(value, key, aad):
    """Kind 0x01: AES-256-GCM(material, nonce, body, header || aad)."""
    kind, _, _ = parse_header(value)
    if kind != 1:
        raise Refused("WrongKind")
    n = value[4]
    header = value[: 21 + n]
    try:
        return AESGCM(key).decrypt(header[-12:], value[21 + n :], header + aad)
    except InvalidTag:
        raise Refused("AuthenticationFailed") from None


def encrypt_ciphertext(key, name, version, nonce, plaintext, aad):
    header = b"RK\x01\x01" + bytes([len(name)]) + name.encode() + version.to_bytes(4, "big") + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def parse_envelope(value):
    """Kind 0x03 layout; returns its parts, checking the embedded wrapped key."""
    kind, name, version = parse_header(value)
    if kind != 3:
        raise Refused("NotEnvelopeCiphertext")
    n = len(name)
    wrapped_end = 9 + n + 69 + n
    wrapped = value[9 + n : wrapped_end]
    try:
        inner = parse_header(wrapped)
    except Refused:
        raise Refused("InvalidWrappedKey") from None
    if inner != (1, name, version) or len(wrapped) != 69 + n:
        raise Refused("InvalidWrappedKey")
    return {
        "name": name,
        "version": version,
        "bound_prefix": value[: 5 + n],
        "wrapped_key": wrapped,
        "salt": value[wrapped_end : wrapped_end + 16],
        "nonce": value[wrapped_end + 16 : wrapped_end + 28],
        "body": value[wrapped_end + 28 :],
    }


def message_key(data_key, salt):
    """HKDF-SHA256-Expand(PRK = data key, info, L = 32): one HMAC block."""
    info = MESSAGE_KEY_LABEL + salt
    return hmac.new(data_key, info + b"\x01", hashlib.sha256).digest()


def open_envelope(value, wrapping_key, aad):
    parts = parse_envelope(value)
    data_key = decrypt_ciphertext(parts["wrapped_key"], wrapping_key, DATA_KEY_AAD)
    if len(data_key) != 32:
        raise Refused("InvalidWrappedKey")
    key = message_key(data_key, parts["salt"])
    payload_aad = parts["bound_prefix"] + parts["salt"] + aad
    try:
        return AESGCM(key).decrypt(parts["nonce"], parts["body"], payload_aad)
    except InvalidTag:
        raise Refused("AuthenticationFailed") from None


def seal_envelope(name, version, wrapped_key, data_key, salt, nonce, plaintext, aad):
    prefix = b"RK\x01\x03" + bytes([len(name)]) + name.encode()
    key = message_key(data_key, salt)
    body = AESGCM(key).encrypt(nonce, plaintext, prefix + salt + aad)
    return prefix + version.to_bytes(4, "big") + wrapped_key + salt + nonce + body


def parse_stream_header(value):
    """Kind 0x04 header: the common header, wrapped key, salt and segment size. A value may
    end right after its header (a reader parses it before any segment)."""
    try:
        kind, name, version = parse_header(value)
    except Refused as refused:
        # The whole-value minimum does not apply to a header: only its own bytes must be there.
        if refused.args[0] != "TooShort" or len(value) < 5 or value[3] != 4:
            raise
        n = value[4]
        if len(value) < 98 + 2 * n:
            raise
        kind, name, version = value[3], value[5 : 5 + n].decode("ascii"), int.from_bytes(value[5 + n : 9 + n], "big")
    if kind != 4:
        raise Refused("NotStreamCiphertext")
    n = len(name)
    wrapped = value[9 + n : 78 + 2 * n]
    try:
        inner = parse_header(wrapped)
    except Refused:
        raise Refused("InvalidWrappedKey") from None
    if inner != (1, name, version) or len(wrapped) != 69 + n:
        raise Refused("InvalidWrappedKey")
    size = int.from_bytes(value[94 + 2 * n : 98 + 2 * n], "big")
    if not 256 <= size <= 1 << 20:
        raise Refused("InvalidSegmentSize")
    return {"name": name, "version": version, "bound_prefix": value[: 5 + n], "wrapped_key": wrapped,
            "salt": value[78 + 2 * n : 94 + 2 * n], "segment_size": size, "header_len": 98 + 2 * n}


def stream_key(data_key, salt):
    return hmac.new(data_key, STREAM_KEY_LABEL + salt + b"\x01", hashlib.sha256).digest()


def segment_nonce(index, last):
    return bytes(7) + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def open_stream(value, wrapping_key, aad):
    """Opens a whole stream of known length: k = ceil((T - H) / (S + 16)) segments."""
    parts = parse_stream_header(value)
    data_key = decrypt_ciphertext(parts["wrapped_key"], wrapping_key, DATA_KEY_AAD)
    key = AESGCM(stream_key(data_key, parts["salt"]))
    seg_aad = parts["bound_prefix"] + parts["salt"] + parts["segment_size"].to_bytes(4, "big") + aad
    body, full = value[parts["header_len"] :], parts["segment_size"] + 16
    if len(body) < 16:
        raise Refused("AuthenticationFailed")
    count = -(-len(body) // full)
    out = b""
    for i in range(count):
        segment = body[i * full : (i + 1) * full]
        if len(segment) < 16:
            raise Refused("AuthenticationFailed")
        try:
            out += key.decrypt(segment_nonce(i, i == count - 1), segment, seg_aad)
        except InvalidTag:
            raise Refused("AuthenticationFailed") from None
    return out


def seal_stream(name, version, wrapped_key, data_key, salt, size, plaintext, aad):
    prefix = b"RK\x01\x04" + bytes([len(name)]) + name.encode()
    key = AESGCM(stream_key(data_key, salt))
    seg_aad = prefix + salt + size.to_bytes(4, "big") + aad
    chunks = [plaintext[i : i + size] for i in range(0, len(plaintext), size)] or [b""]
    out = prefix + version.to_bytes(4, "big") + wrapped_key + salt + size.to_bytes(4, "big")
    for i, chunk in enumerate(chunks):
        out += key.encrypt(segment_nonce(i, i == len(chunks) - 1), chunk, seg_aad)
    return out


def check_stream_file(cases):
    valid = rewrapped = 0
    for c in cases:
        d, h = c["description"], bytes.fromhex
        if c["type"] == "stream":
            valid += 1
            wrapping_key, data_key = h(c["key_material_hex"]), h(c["data_key_hex"])
            name, version, salt = c["key_name"], c["key_version"], h(c["salt_hex"])
            aad, plaintext, value = h(c["associated_data_hex"]), h(c["plaintext_hex"]), h(c["value_hex"])
            wrapped = encrypt_ciphertext(wrapping_key, name, version, h(c["wrapping_nonce_hex"]),
                                         data_key, DATA_KEY_AAD)
            assert wrapped.hex() == c["wrapped_key_hex"], d
            assert stream_key(data_key, salt).hex() == c["stream_key_hex"], d
            assert open_stream(value, wrapping_key, aad) == plaintext, d
            made = seal_stream(name, version, wrapped, data_key, salt, c["segment_size"], plaintext, aad)
            assert made == value, d
            if "rewrapped_from_hex" in c:
                rewrapped += 1
                original, n = h(c["rewrapped_from_hex"]), len(name)
                assert original[: 5 + n] == value[: 5 + n], d
                assert original[78 + 2 * n :] == value[78 + 2 * n :], d
        else:
            value = h(c["value_hex"])
            if "key_material_hex" in c:
                action = lambda: open_stream(value, h(c["key_material_hex"]), h(c.get("associated_data_hex", "")))
            else:
                action = lambda: parse_stream_header(value)
            expect_refused(d, c["expected_error"], action)
    assert valid >= 5 and rewrapped == 1, (valid, rewrapped)
    return len(cases)


def expect_refused(description, expected, action):
    try:
        action()
    except Refused as refused:
        if refused.args[0] != expected:
            raise AssertionError(f"{description}: refused as {refused.args[0]}, expected {expected}")
        return
    raise AssertionError(f"{description}: accepted, expected {expected}")


def check_ciphertext_file(cases):
    for c in cases:
        d, h = c["description"], bytes.fromhex
        if c["type"] == "ciphertext":
            key, value = h(c["key_material_hex"]), h(c["ciphertext_hex"])
            made = encrypt_ciphertext(key, c["key_name"], c["key_version"], h(c["nonce_hex"]),
                                      h(c["plaintext_hex"]), h(c["associated_data_hex"]))
            assert made == value, d
            assert decrypt_ciphertext(value, key, h(c["associated_data_hex"])) == h(c["plaintext_hex"]), d
        elif c["type"] == "signature":
            value = h(c["signature_hex"])
            kind, name, version = parse_header(value)
            assert (kind, name, version) == (2, c["key_name"], c["key_version"]), d
            n = len(name)
            tag = hmac.new(h(c["key_material_hex"]), value[: 9 + n] + h(c["message_hex"]), hashlib.sha256)
            assert hmac.compare_digest(tag.digest(), value[9 + n :]), d
        else:
            value = h(c["ciphertext_hex"])
            if "key_material_hex" in c:
                action = lambda: decrypt_ciphertext(value, h(c["key_material_hex"]),
                                                    h(c.get("associated_data_hex", "")))
            else:
                action = lambda: parse_header(value)
            expect_refused(d, c["expected_error"], action)
    return len(cases)


def check_envelope_file(cases):
    valid = rewrapped = 0
    for c in cases:
        d, h = c["description"], bytes.fromhex
        if c["type"] == "envelope":
            valid += 1
            wrapping_key, data_key = h(c["key_material_hex"]), h(c["data_key_hex"])
            name, version = c["key_name"], c["key_version"]
            aad, plaintext, value = h(c["associated_data_hex"]), h(c["plaintext_hex"]), h(c["value_hex"])
            wrapped = encrypt_ciphertext(wrapping_key, name, version, h(c["wrapping_nonce_hex"]),
                                         data_key, DATA_KEY_AAD)
            assert wrapped.hex() == c["wrapped_key_hex"], d
            assert message_key(data_key, h(c["salt_hex"])).hex() == c["message_key_hex"], d
            parts = parse_envelope(value)
            assert (parts["name"], parts["version"], parts["wrapped_key"]) == (name, version, wrapped), d
            assert open_envelope(value, wrapping_key, aad) == plaintext, d
            made = seal_envelope(name, version, wrapped, data_key, h(c["salt_hex"]), h(c["nonce_hex"]),
                                 plaintext, aad)
            assert made == value, d
            if "rewrapped_from_hex" in c:
                # Rewrap changes only the version and wrapped key; the rest is identical.
                rewrapped += 1
                original = h(c["rewrapped_from_hex"])
                n = len(name)
                assert original[: 5 + n] == value[: 5 + n], d
                assert original[78 + 2 * n :] == value[78 + 2 * n :], d
                assert parse_envelope(original)["version"] != version, d
        else:
            value = h(c["value_hex"])
            if "key_material_hex" in c:
                action = lambda: open_envelope(value, h(c["key_material_hex"]),
                                               h(c.get("associated_data_hex", "")))
            else:
                action = lambda: parse_envelope(value)
            expect_refused(d, c["expected_error"], action)
    assert valid >= 4 and rewrapped == 1, (valid, rewrapped)
    return len(cases)


def check_made_by_file(made):
    """Values a client sealed on its production path (random salts), opened from the spec."""
    h = bytes.fromhex
    data_key, wrapped = h(made["data_key_hex"]), h(made["wrapped_key_hex"])
    kind, name, version = parse_header(wrapped)
    assert (kind, name, version) == (1, made["key_name"], made["key_version"]), made["made_by"]
    for c in made["cases"]:
        d = f'{made["made_by"]}: {c["description"]}'
        parts = parse_envelope(h(c["value_hex"]))
        assert (parts["name"], parts["version"], parts["wrapped_key"]) == (name, version, wrapped), d
        key = message_key(data_key, parts["salt"])
        aad = parts["bound_prefix"] + parts["salt"] + h(c["associated_data_hex"])
        assert AESGCM(key).decrypt(parts["nonce"], parts["body"], aad) == h(c["plaintext_hex"]), d
    return len(made["cases"])


def main():
    total = check_ciphertext_file(json.loads((HERE / "ciphertext-v1.json").read_text()))
    total += check_envelope_file(json.loads((HERE / "envelope-v1.json").read_text()))
    total += check_stream_file(json.loads((HERE / "stream-v1.json").read_text()))
    makers = []
    for path in sorted(HERE.glob("envelope-made-by-*.json")):
        made = json.loads(path.read_text())
        total += check_made_by_file(made)
        makers.append(made["made_by"])
    assert "rust" in makers, makers
    print(f"ok: {total} vectors in ciphertext-v1.json, envelope-v1.json, stream-v1.json and the values made by "
          f"{', '.join(makers)} agree with the spec")
    return 0


if __name__ == "__main__":
    sys.exit(main())
