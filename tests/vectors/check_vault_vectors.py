#!/usr/bin/env python3
"""Independent check of tests/vectors/vault-transit-v1.json (HashiCorp Vault Transit's formats).

Shares no code with make_vault_vectors.py or with Rekey: it reads each backup the way an importer
must (base64, then the JSON of Vault's keysutil.KeyData), finds every version's key bytes in it
(policy.keys, else archived_keys.keys[version - min_available_version]), and then

  * checks the backup is what Vault's Policy.Backup writes: compact JSON ending in one newline,
    Policy and KeyEntry fields in Go's declaration order, policy.keys holding exactly the versions
    from min_decryption_version to latest_version, the archive holding every version (index 0 an
    unused zero entry while nothing was trimmed), times in Go's RFC 3339 form agreeing with the
    Unix seconds in creation_time, and the `expected` summary agreeing with all of it;
  * for every "decrypt" case, seals the plaintext again with the key bytes from the backup and the
    case's nonce (AES-256-GCM, associated data as AAD) and gets the same `vault:v<N>:` value, then
    opens the value and gets the plaintext back;
  * for every "reject" case, confirms that opening fails, for the reason the case names.

Uses only Python's standard library and the `cryptography` package (pinned in requirements.txt).

Run: python3 tests/vectors/check_vault_vectors.py   (exit status 0 = pass)
"""

import base64
import binascii
import json
import pathlib
import re
import sys
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = HERE / "vault-transit-v1.json"

PREFIX = "vault:v"  # keysutil.DefaultVersionTemplate "vault:v{{version}}:"
NONCE, TAG = 12, 16
AES256_GCM96 = 0

# Policy's JSON names in declaration order (sdk/helper/keysutil/policy.go); "key" and "key_size"
# are omitempty and absent from these backups.
POLICY_FIELDS = [
    "name", "key", "key_size", "keys", "derived", "kdf", "convergent_encryption", "exportable",
    "min_decryption_version", "min_encryption_version", "latest_version", "archive_version",
    "archive_min_version", "min_available_version", "deletion_allowed", "convergent_version", "type",
    "backup_info", "restore_info", "allow_plaintext_backup", "version_template", "storage_prefix",
    "auto_rotate_period", "Imported", "AllowImportedKeyRotation", "ParameterSet", "HybridConfig",
]
KEY_ENTRY_FIELDS = [
    "key", "hmac_key", "time", "ec_x", "ec_y", "ec_d", "rsa_key", "rsa_public_key", "public_key",
    "convergent_version", "creation_time", "managed_key_id", "certificate_chain",
]
GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


class Refused(Exception):
    """Opening a value failed; args[0] is the class: authentication_failed, unknown_version, malformed."""


def fail(message):
    raise AssertionError(message)


def strict_b64(text):
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Refused("malformed") from None


def go_time_to_unix(text):
    """Unix seconds of a Go RFC3339Nano time, refusing forms Go would not write."""
    m = GO_TIME.match(text)
    if not m:
        fail(f"time {text!r} is not RFC 3339")
    if m.group(2) is not None and m.group(2).endswith("0"):
        fail(f"time {text!r}: Go drops trailing zeros of the fraction")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    if zone == "+00:00" and m.group(3) != "Z":
        fail(f"time {text!r}: Go writes a zero offset as Z")
    return int(datetime.fromisoformat(m.group(1) + zone).timestamp())


def in_go_order(keys, order, what):
    positions = []
    for k in keys:
        if k not in order:
            fail(f"{what}: field {k!r} is not one Vault writes")
        positions.append(order.index(k))
    if positions != sorted(positions):
        fail(f"{what}: fields not in Go's declaration order: {list(keys)}")


class Backup:
    """A Vault backup string, read as an importer reads it."""

    def __init__(self, entry):
        self.entry = entry
        self.name = entry["name"]
        raw = strict_b64(entry["backup"])
        if not raw.endswith(b"}\n"):
            fail(f"{self.name}: the backup's JSON must end with one newline (json.Encoder.Encode)")
        data = json.loads(raw)
        if json.dumps(data, separators=(",", ":")).encode() + b"\n" != raw:
            fail(f"{self.name}: the backup's JSON is not compact Go output")
        if data != entry["backup_decoded"]:
            fail(f"{self.name}: backup_decoded is not what the backup decodes to")
        if list(data) != ["policy", "archived_keys"]:
            fail(f"{self.name}: KeyData has fields {list(data)}")
        self.policy = data["policy"]
        self.archive = data["archived_keys"]["keys"]

    def key_entry(self, version):
        """The KeyEntry of `version`: policy.keys, else the archive, else None."""
        p = self.policy
        if not 1 <= version <= p["latest_version"]:
            return None
        entry = p["keys"].get(str(version))
        if entry is None:
            index = version - p["min_available_version"]
            if 0 <= index < len(self.archive):
                entry = self.archive[index]
        return entry

    def key(self, version):
        entry = self.key_entry(version)
        if entry is None or entry["key"] is None:
            raise Refused("unknown_version")
        return base64.b64decode(entry["key"], validate=True)

    def importable(self):
        p = self.policy
        return p["type"] == AES256_GCM96 and not p["derived"] and not p["convergent_encryption"]

    def check(self):
        e, p, name = self.entry, self.policy, self.name
        if e["http_response"]["data"] != {"backup": e["backup"]}:
            fail(f"{name}: http_response.data is not {{\"backup\": backup}}")
        in_go_order(p.keys(), POLICY_FIELDS, f"{name}: policy")
        if p["name"] != name or not p["exportable"] or not p["allow_plaintext_backup"]:
            fail(f"{name}: Vault backs up only an exportable key that allows plaintext backup")
        latest, min_dec, min_avail = p["latest_version"], p["min_decryption_version"], p["min_available_version"]
        if not 1 <= min_dec <= latest or p["archive_version"] != latest or p["archive_min_version"] != min_avail:
            fail(f"{name}: versions inconsistent")
        if sorted(p["keys"], key=int) != [str(v) for v in range(min_dec, latest + 1)]:
            fail(f"{name}: policy.keys should hold versions {min_dec}..{latest}, holds {list(p['keys'])}")
        if len(self.archive) != latest - min_avail + 1:
            fail(f"{name}: archive length {len(self.archive)}, expected {latest - min_avail + 1}")
        if min_avail == 0 and self.archive[0] != {
                "key": None, "hmac_key": None, "time": "0001-01-01T00:00:00Z", "creation_time": 0}:
            fail(f"{name}: archive index 0 should be Go's zero KeyEntry")
        if p["backup_info"]["version"] != latest:
            fail(f"{name}: backup_info.version is not latest_version")
        go_time_to_unix(p["backup_info"]["time"])
        if p["kdf"] != (1 if p["derived"] else 0):
            fail(f"{name}: kdf is 0 unless derived; a derived key made today uses 1 (HKDF)")
        key_len = 16 if p["type"] == 8 else 32
        for v in range(1, latest + 1):
            entry = self.key_entry(v)
            in_go_order(entry.keys(), KEY_ENTRY_FIELDS, f"{name}: version {v}")
            archived = self.archive[v - min_avail]
            if entry != archived:
                fail(f"{name}: version {v} differs between policy.keys and the archive")
            if len(base64.b64decode(entry["key"], validate=True)) != key_len:
                fail(f"{name}: version {v}'s key is not {key_len} bytes")
            if len(base64.b64decode(entry["hmac_key"], validate=True)) != 32:
                fail(f"{name}: version {v}'s hmac_key is not 32 bytes")
            if go_time_to_unix(entry["time"]) != entry["creation_time"]:
                fail(f"{name}: version {v}: time and creation_time disagree")
        x = e["expected"]
        if (x["name"], x["type"], x["derived"], x["convergent_encryption"], x["latest_version"],
                x["min_decryption_version"], x["min_available_version"]) != (
                p["name"], p["type"], p["derived"], p["convergent_encryption"], latest, min_dec, min_avail):
            fail(f"{name}: expected does not match the policy")
        if [xv["version"] for xv in x["versions"]] != list(range(1, latest + 1)):
            fail(f"{name}: expected.versions should list 1..{latest}")
        for xv in x["versions"]:
            entry, v = self.key_entry(xv["version"]), xv["version"]
            found = ([f"policy.keys[\"{v}\"]"] if str(v) in p["keys"] else []) + [
                f"archived_keys.keys[{v - min_avail}]"]
            if (base64.b64decode(entry["key"]).hex(), entry["time"], entry["creation_time"], found) != (
                    xv["key_hex"], xv["time"], xv["creation_time"], xv["found_in"]):
                fail(f"{name}: expected version {v} does not match the backup")
        if e["importable"] != self.importable() or ("refuse_reason" in e) == e["importable"]:
            fail(f"{name}: importable should be {self.importable()} (aes256-gcm96, not derived, not convergent)")


def open_value(text, backup, aad):
    """Vault's DecryptWithFactory for a non-derived aes256-gcm96 key, with Rekey's error classes."""
    if not text.startswith(PREFIX):
        raise Refused("malformed")
    parts = text[len(PREFIX):].split(":", 1)
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise Refused("malformed")
    version = int(parts[0])
    key = backup.key(version)  # unknown_version when the backup has no such version
    sealed = strict_b64(parts[1])
    if len(sealed) < NONCE + TAG:
        raise Refused("authentication_failed")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], aad or None)
    except InvalidTag:
        raise Refused("authentication_failed") from None


def seal_value(version, key, nonce, plaintext, aad):
    return f"{PREFIX}{version}:" + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad or None)).decode()


def main():
    doc = json.loads(VECTORS.read_text())
    for field in ("description", "vault_sources", "backups", "cases"):
        if field not in doc:
            fail(f"top-level field {field!r} missing")
    backups = {}
    for entry in doc["backups"]:
        b = Backup(entry)
        b.check()
        backups[b.name] = b
    if not {"legacy-payments", "legacy-archived"} <= set(backups):
        fail("the two importable backups legacy-payments and legacy-archived must be there")

    decrypted = rejected = 0
    ids = set()
    for case in doc["cases"]:
        cid = case["id"]
        if cid in ids:
            fail(f"{cid}: duplicate id")
        ids.add(cid)
        backup = backups[case["backup"]]
        if not backup.importable():
            fail(f"{cid}: cases use importable backups only")
        aad = base64.b64decode(case["associated_data_base64"], validate=True)
        if case["type"] == "decrypt":
            v = case["key_version"]
            if case["below_min_decryption_version"] != (v < backup.policy["min_decryption_version"]):
                fail(f"{cid}: below_min_decryption_version is wrong")
            nonce = bytes.fromhex(case["nonce_hex"])
            plaintext = base64.b64decode(case["plaintext_base64"], validate=True)
            again = seal_value(v, backup.key(v), nonce, plaintext, aad)
            if again != case["ciphertext"]:
                fail(f"{cid}: sealing again with the backup's key and the nonce gives {again}")
            try:
                opened = open_value(case["ciphertext"], backup, aad)
            except Refused as refused:
                fail(f"{cid}: does not open ({refused.args[0]})")
            if opened != plaintext:
                fail(f"{cid}: opens to something else")
            decrypted += 1
        elif case["type"] == "reject":
            if not case.get("reason") or not case.get("vault_error"):
                fail(f"{cid}: a reject case names its reason and Vault's error")
            try:
                open_value(case["ciphertext"], backup, aad)
            except Refused as refused:
                if refused.args[0] != case["expect"]:
                    fail(f"{cid}: refused as {refused.args[0]}, the vector says {case['expect']}")
            else:
                fail(f"{cid}: opened, but the vector says it must not ({case['reason']})")
            rejected += 1
        else:
            fail(f"{cid}: unknown case type {case['type']!r}")

    print(f"ok: {len(backups)} backups, {decrypted} values that decrypt and {rejected} that must not, "
          f"in {VECTORS.name}, agree with Vault's formats")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        sys.exit(1)
