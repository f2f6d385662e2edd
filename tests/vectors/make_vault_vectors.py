#!/usr/bin/env python3
"""Makes tests/vectors/vault-transit-v1.json: HashiCorp Vault Transit's formats, for testing
Rekey's importer (`rekey import vault-transit`) and its opening of values Vault sealed.

An independent implementation written from a reading of Vault's Go source (it shares no code
with Rekey, and it does not run Vault). What it relies on, file by file:

  sdk/helper/keysutil/policy.go (hashicorp/vault, commit dbc32821b1b0aa2fababf7068bdc30b139b35f49)
    * `KeyType_AES256_GCM96 = iota` is the first KeyType constant, so aes256-gcm96 is 0 in JSON
      (then ecdsa-p256 1, ed25519 2, rsa-2048 3, rsa-4096 4, chacha20-poly1305 5, ecdsa-p384 6,
      ecdsa-p521 7, aes128-gcm96 8, rsa-3072 9, managed_key 10, hmac 11, ...).
    * `type KeyData struct { Policy *Policy "policy"; ArchivedKeys *archivedKeys "archived_keys" }`,
      `type archivedKeys struct { Keys []KeyEntry "keys" }`.
    * `Policy`'s fields and JSON tags, in declaration order (Go's encoder keeps it): name,
      key (omitempty), key_size (omitempty), keys (map keyed by the version as a decimal string),
      derived, kdf, convergent_encryption, exportable, min_decryption_version,
      min_encryption_version, latest_version, archive_version, archive_min_version,
      min_available_version, deletion_allowed, convergent_version, type, backup_info,
      restore_info, allow_plaintext_backup, version_template, storage_prefix,
      auto_rotate_period (a time.Duration: integer nanoseconds), then the untagged Imported,
      AllowImportedKeyRotation, ParameterSet, HybridConfig (written under their Go names).
    * `KeyEntry`: key ([]byte: standard base64), hmac_key, time (time.Time: RFC 3339 with
      nanoseconds, trailing zeros dropped, the server's UTC offset), the omitempty EC/RSA/
      public_key/convergent_version fields (absent for an AES key), creation_time (Unix seconds).
    * `Backup`: refuses unless exportable and allow_plaintext_backup; sets backup_info
      {time, version: latest_version}; persists (which archives); loads the archive; returns
      base64.StdEncoding(jsonutil.EncodeJSON(KeyData{policy, archive})).
    * `handleArchiving`: archive.Keys[v - min_available_version] is version v, the slice is
      latest_version - min_available_version + 1 long, so with nothing trimmed index 0 is an
      unused zero KeyEntry; policy.keys keeps only versions >= min_decryption_version.
    * `GetKey`: a non-derived key encrypts with keys[v].key as it is.
    * `SymmetricEncryptRaw` / `SymmetricDecryptRaw`: AES-GCM with a 12-byte random nonce,
      output nonce || ciphertext || 16-byte tag, opts.AdditionalData as the GCM AAD.
    * `EncryptWithFactory`: base64-decodes the plaintext, prefixes
      `getVersionPrefix(ver)` (DefaultVersionTemplate "vault:v{{version}}:") to the standard
      base64 of the sealed bytes. `DecryptWithFactory`: the checks and error texts in the
      "reject" cases below.
  sdk/helper/jsonutil/json.go: `EncodeJSON` uses json.NewEncoder(...).Encode, which writes
    compact JSON followed by a newline (so the backup's JSON ends with "\\n").
  sdk/helper/keysutil/lock_manager.go: `BackupPolicy`, `RestorePolicy` (base64, then KeyData);
    a new aes256-gcm96 policy (non-derived: kdf 0, convergent_version 0).
  builtin/logical/transit/path_backup.go: `GET transit/backup/:name` answers
    data = {"backup": <that string>}.
  builtin/logical/transit/path_encrypt.go: associated_data is base64, decoded by
    AssocDataFactory and passed as the AAD only when non-empty.
  sdk/logical/translate_response.go: the HTTP response's envelope (request_id, lease_id, ...).

Everything is fixed: key bytes and nonces are SHA-256 of fixed labels, times are fixed.
Running it twice writes the same file.

Run: python3 tests/vectors/make_vault_vectors.py          (writes the JSON file)
     python3 tests/vectors/make_vault_vectors.py --check  (exit 1 if the file differs)
"""

import base64
import hashlib
import json
import pathlib
import sys
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "vault-transit-v1.json"

# KeyType numbering (policy.go, `const ( KeyType_AES256_GCM96 = iota ...`).
KEY_TYPES = {"aes256-gcm96": 0, "chacha20-poly1305": 5, "aes128-gcm96": 8}
KDF_HKDF_SHA256 = 1  # Kdf_hmac_sha256_counter = iota (0), Kdf_hkdf_sha256 (1)

VAULT_SOURCES = [
    {
        "path": "sdk/helper/keysutil/policy.go",
        "commit": "dbc32821b1b0aa2fababf7068bdc30b139b35f49",
        "relied_on": "KeyType constants (iota, aes256-gcm96 = 0); KeyData, Policy, KeyEntry, archivedKeys "
        "and their JSON tags; Backup; handleArchiving (archive index = version - min_available_version); "
        "GetKey (non-derived: the version's key as it is); SymmetricEncryptRaw/SymmetricDecryptRaw "
        "(nonce || ciphertext || tag, AdditionalData as AAD); EncryptWithFactory/DecryptWithFactory "
        "(vault:v<N>: prefix, standard base64, error texts); DefaultVersionTemplate",
    },
    {
        "path": "sdk/helper/keysutil/policy_ce.go",
        "commit": "01c88db77d4c1060ae8d293006a8107d253481c1",
        "relied_on": "entKeyEntry is an empty struct in the community edition (adds no JSON field to KeyEntry)",
    },
    {
        "path": "sdk/helper/keysutil/lock_manager.go",
        "commit": "a5dcb7943a35d6560f920321e49ad3c488c62824",
        "relied_on": "BackupPolicy / RestorePolicy (base64 of KeyData JSON); new policies: kdf 0 and "
        "convergent_version 0 unless derived, derived keys get kdf 1 (HKDF), convergent ones convergent_version -1",
    },
    {
        "path": "sdk/helper/jsonutil/json.go",
        "commit": "2bc84138f77b71157c7edbced8e4e3869e424188",
        "relied_on": "EncodeJSON = json.Encoder.Encode: compact JSON and a trailing newline",
    },
    {
        "path": "builtin/logical/transit/path_backup.go",
        "commit": "8142b42d951119a73ce46daa3331921b5e21cdee",
        "relied_on": "GET transit/backup/:name returns data {\"backup\": BackupPolicy(...)}",
    },
    {
        "path": "builtin/logical/transit/path_restore.go",
        "commit": "37c43ddcfd075856909823e3ef7096d83d1d4190",
        "relied_on": "POST transit/restore takes that same string as `backup`",
    },
    {
        "path": "builtin/logical/transit/path_encrypt.go",
        "relied_on": "associated_data: base64 (AssocDataFactory.GetAssociatedData), used only when non-empty "
        "and only for AEAD key types",
    },
    {
        "path": "builtin/logical/transit/path_trim.go",
        "commit": "f09c5fc0e57d39e57abb533f6fa5fbf765a40f96",
        "relied_on": "trim sets min_available_version, which shifts the archive's indexing",
    },
    {
        "path": "sdk/logical/translate_response.go",
        "commit": "7bd0e7837f74f3ac11b0d921bb9d844e0b91387d",
        "relied_on": "HTTPResponse fields request_id, lease_id, renewable, lease_duration, data, wrap_info, "
        "warnings, auth (newer Vaults may add fields such as mount_type)",
    },
]

DESCRIPTION = (
    "Test vectors for HashiCorp Vault Transit's formats, made by tests/vectors/make_vault_vectors.py, "
    "an independent Python implementation written from Vault's Go source (see vault_sources), and "
    "checked by tests/vectors/check_vault_vectors.py. "
    "backups[]: what `GET /v1/transit/backup/<name>` returns (http_response) and its data.backup string "
    "(backup): standard base64 of the JSON of keysutil.KeyData {\"policy\": Policy, \"archived_keys\": "
    "{\"keys\": [KeyEntry]}} as Policy.Backup writes it (sdk/helper/keysutil/policy.go, "
    "sdk/helper/jsonutil/json.go: compact, fields in Go declaration order, ending in a newline); "
    "backup_decoded is the same JSON parsed, for reading; expected lists what an importer should take from it. "
    "policy.type is Vault's integer KeyType (aes256-gcm96 = 0); policy.keys is keyed by the version as a "
    "decimal string and holds only versions >= min_decryption_version; archived_keys.keys[i] is version "
    "i + min_available_version (index 0 is an unused zero entry while nothing was trimmed); KeyEntry.time "
    "is RFC 3339 with nanoseconds and the server's UTC offset, creation_time is Unix seconds. "
    "cases[]: values in Vault's text form `vault:v<N>:` + standard base64(nonce (12) || ciphertext || "
    "tag (16)), AES-256-GCM under version N's key bytes as they are (no derivation), the request's "
    "associated_data (base64; \"\" = none) as the only AAD (policy.go SymmetricEncryptRaw, "
    "EncryptWithFactory; builtin/logical/transit/path_encrypt.go). type \"decrypt\": the value opens "
    "to plaintext_base64 (and re-encrypting with nonce_hex gives the value back); "
    "below_min_decryption_version marks a version Vault itself refuses until min_decryption_version "
    "is lowered, though its key is in archived_keys. type \"reject\": the value must not decrypt; "
    "expect is one of authentication_failed, unknown_version, malformed; vault_error is what Vault says. "
    "Key bytes and nonces are SHA-256 of fixed labels: nothing here is secret."
)


def fixed(label, n=32):
    """Deterministic bytes: SHA-256 of a fixed label, cut to n bytes."""
    return hashlib.sha256(b"rekey vault-transit-v1 vectors: " + label.encode()).digest()[:n]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def go_time(local, nanos, offset_minutes):
    """(RFC 3339 text as Go's time.Time MarshalJSON writes it, Unix seconds).

    `local` is "YYYY-MM-DDTHH:MM:SS" in the server's zone, `offset_minutes` that zone's UTC
    offset at the time. Go writes RFC3339Nano: the fraction without trailing zeros (none at
    all when zero) and "Z" for a zero offset, else +hh:mm / -hh:mm.
    """
    tz = timezone(timedelta(minutes=offset_minutes))
    dt = datetime.strptime(local, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz)
    text = local
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    if offset_minutes == 0:
        text += "Z"
    else:
        sign = "+" if offset_minutes > 0 else "-"
        hours, minutes = divmod(abs(offset_minutes), 60)
        text += f"{sign}{hours:02d}:{minutes:02d}"
    return text, int(dt.timestamp())


def zero_key_entry():
    """Go's zero KeyEntry as the current KeyEntry marshals it (nil []byte -> null, zero time)."""
    return {"key": None, "hmac_key": None, "time": "0001-01-01T00:00:00Z", "creation_time": 0}


def key_entry(key, hmac_key, when, convergent_version=0):
    text, unix = when
    entry = {"key": b64(key), "hmac_key": b64(hmac_key), "time": text}
    if convergent_version:  # `json:"convergent_version,omitempty"`, between public_key and creation_time
        entry["convergent_version"] = convergent_version
    entry["creation_time"] = unix
    return entry


def request_id(label):
    h = hashlib.sha256(b"rekey vault-transit-v1 vectors request id: " + label.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def make_backup(spec):
    """Builds one backup as Vault's Policy.Backup would write it for `spec`."""
    name = spec["name"]
    key_len = 16 if spec["type"] == "aes128-gcm96" else 32
    latest = len(spec["times"])
    min_dec = spec.get("min_decryption_version", 1)
    derived = spec.get("derived", False)
    convergent = spec.get("convergent", False)
    versions = []
    for v, when in enumerate(spec["times"], start=1):
        versions.append({
            "version": v,
            "key": fixed(f"{name} key v{v}", key_len),
            "hmac_key": fixed(f"{name} hmac key v{v}"),
            "when": go_time(*when),
        })
    entries = {
        v["version"]: key_entry(v["key"], v["hmac_key"], v["when"], 3 if convergent else 0) for v in versions
    }
    policy = {
        "name": name,
        # Go sorts map keys: "1" < "2" < ... (fine below version 10; these vectors stop at 3).
        "keys": {str(v): entries[v] for v in sorted(entries) if v >= min_dec},
        "derived": derived,
        "kdf": KDF_HKDF_SHA256 if derived else 0,
        "convergent_encryption": convergent,
        "exportable": True,
        "min_decryption_version": min_dec,
        "min_encryption_version": 0,
        "latest_version": latest,
        "archive_version": latest,
        "archive_min_version": 0,
        "min_available_version": 0,
        "deletion_allowed": spec.get("deletion_allowed", False),
        "convergent_version": -1 if convergent else 0,
        "type": KEY_TYPES[spec["type"]],
        "backup_info": {"time": go_time(*spec["backup_time"])[0], "version": latest},
        "restore_info": None,
        "allow_plaintext_backup": True,
        "version_template": "",
        "storage_prefix": "",
        "auto_rotate_period": spec.get("auto_rotate_period_ns", 0),
        "Imported": False,
        "AllowImportedKeyRotation": False,
        "ParameterSet": "",
        "HybridConfig": {"PQCKeyType": 0, "ECKeyType": 0},
    }
    archived = {"keys": [zero_key_entry()] + [entries[v] for v in sorted(entries)]}
    key_data = {"policy": policy, "archived_keys": archived}
    backup_json = json.dumps(key_data, separators=(",", ":")) + "\n"
    backup = b64(backup_json.encode("ascii"))
    expected_versions = []
    for v in versions:
        where = [f"archived_keys.keys[{v['version']}]"]
        if v["version"] >= min_dec:
            where.insert(0, f"policy.keys[\"{v['version']}\"]")
        expected_versions.append({
            "version": v["version"],
            "key_hex": v["key"].hex(),
            "time": v["when"][0],
            "creation_time": v["when"][1],
            "found_in": where,
        })
    entry = {
        "name": name,
        "description": spec["description"],
        "importable": spec.get("refuse") is None,
    }
    if spec.get("refuse"):
        entry["refuse_reason"] = spec["refuse"]
    entry.update({
        "backup": backup,
        "http_response": {
            "request_id": request_id(name),
            "lease_id": "",
            "renewable": False,
            "lease_duration": 0,
            "data": {"backup": backup},
            "wrap_info": None,
            "warnings": None,
            "auth": None,
        },
        "expected": {
            "name": name,
            "type": KEY_TYPES[spec["type"]],
            "type_name": spec["type"],
            "derived": derived,
            "convergent_encryption": convergent,
            "latest_version": latest,
            "min_decryption_version": min_dec,
            "min_available_version": 0,
            "versions": expected_versions,
        },
        "backup_decoded": key_data,
    })
    return entry, {v["version"]: v["key"] for v in versions}


BACKUPS = [
    {
        "name": "legacy-payments",
        "description": "aes256-gcm96, 3 versions, min_decryption_version 1: every version in policy.keys "
        "and in archived_keys; server clock in UTC (times end in Z; v2's fraction shows Go dropping "
        "trailing zeros, v3's a fraction below a microsecond)",
        "type": "aes256-gcm96",
        "times": [
            ("2021-03-04T09:12:45", 182736451, 0),
            ("2022-03-04T08:55:02", 610000000, 0),
            ("2023-03-06T10:01:19", 427, 0),
        ],
        "backup_time": ("2025-06-10T14:03:27", 903317208, 0),
    },
    {
        "name": "legacy-archived",
        "description": "aes256-gcm96, 3 versions, min_decryption_version 2: version 1 is only in "
        "archived_keys (index 1; index 0 is Vault's unused zero entry); server clock in "
        "America/New_York (offsets -05:00 in winter, -04:00 in summer); backup_info.time has no "
        "fraction; auto_rotate_period 8760h in nanoseconds; deletion allowed",
        "type": "aes256-gcm96",
        "min_decryption_version": 2,
        "deletion_allowed": True,
        "auto_rotate_period_ns": 8760 * 3600 * 10**9,
        "times": [
            ("2020-11-16T16:40:09", 339201875, -300),
            ("2021-06-01T11:20:44", 500000000, -240),
            ("2022-06-01T11:21:03", 77148000, -240),
        ],
        "backup_time": ("2025-01-15T09:30:00", 0, -300),
    },
    {
        "name": "legacy-derived",
        "description": "aes256-gcm96 with key derivation (derived true, kdf 1 = HKDF-SHA256): every value is "
        "sealed with a key derived from the request's context, not with the stored bytes",
        "type": "aes256-gcm96",
        "derived": True,
        "refuse": "derived key: Rekey cannot import it (policy.derived is true)",
        "times": [("2022-09-12T07:45:31", 5551212, 0)],
        "backup_time": ("2025-06-10T14:05:00", 118000000, 0),
    },
    {
        "name": "legacy-convergent",
        "description": "aes256-gcm96 with convergent encryption (derived, convergent_encryption true, "
        "policy convergent_version -1, the entry's convergent_version 3): nonces come from an HMAC of "
        "the plaintext",
        "type": "aes256-gcm96",
        "derived": True,
        "convergent": True,
        "refuse": "convergent key: Rekey cannot import it (policy.convergent_encryption is true)",
        "times": [("2022-09-12T07:46:02", 990000001, 0)],
        "backup_time": ("2025-06-10T14:05:09", 7, 0),
    },
    {
        "name": "legacy-aes128",
        "description": "aes128-gcm96 (type 8, 16-byte keys)",
        "type": "aes128-gcm96",
        "refuse": "key type 8 (aes128-gcm96): Rekey imports only type 0 (aes256-gcm96)",
        "times": [("2023-01-02T03:04:05", 60708090, 0)],
        "backup_time": ("2025-06-10T14:06:00", 1, 0),
    },
    {
        "name": "legacy-chacha",
        "description": "chacha20-poly1305 (type 5)",
        "type": "chacha20-poly1305",
        "refuse": "key type 5 (chacha20-poly1305): Rekey imports only type 0 (aes256-gcm96)",
        "times": [("2023-01-02T03:04:06", 123456789, 0)],
        "backup_time": ("2025-06-10T14:06:01", 999999999, 0),
    },
]

PLAINTEXTS = {
    "card": b"4111 1111 1111 1111",
    "binary": bytes(range(256)),
    "empty": b"",
}
AAD = b"merchant=acme;order=1001"
OTHER_AAD = b"merchant=acme;order=1002"


def seal(key, version, nonce, plaintext, aad):
    """Vault's EncryptWithFactory for a non-derived aes256-gcm96 key."""
    sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, aad or None)
    return f"vault:v{version}:" + b64(sealed)


WHAT = {
    "card-no-aad": "a 19-byte text, no associated data",
    "card-with-aad": "a 19-byte text, associated data \"merchant=acme;order=1001\"",
    "binary-256-no-aad": "the 256 bytes 0x00..0xff, no associated data",
}


def decrypt_case(backup, keys, version, what, plaintext, aad, below_min=False, note=None):
    nonce = fixed(f"{backup} v{version} {what} nonce", 12)
    case = {
        "type": "decrypt",
        "id": f"{backup}/v{version}/{what}",
        "description": note or f"version {version}: {WHAT[what]}",
        "backup": backup,
        "key_version": version,
        "below_min_decryption_version": below_min,
        "nonce_hex": nonce.hex(),
        "plaintext_base64": b64(plaintext),
        "associated_data_base64": b64(aad),
        "ciphertext": seal(keys[version], version, nonce, plaintext, aad),
    }
    return case


def flip(text, byte_index):
    """The value with one bit flipped in byte `byte_index` of what its base64 decodes to."""
    prefix, payload = text.rsplit(":", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[byte_index] ^= 0x01
    return prefix + ":" + b64(bytes(raw))


def reject(case_id, backup, ciphertext, aad, expect, reason, vault_error):
    return {
        "type": "reject",
        "id": case_id,
        "backup": backup,
        "ciphertext": ciphertext,
        "associated_data_base64": b64(aad),
        "expect": expect,
        "reason": reason,
        "vault_error": vault_error,
    }


AUTH_FAILED = "cipher: message authentication failed"  # Go's crypto/cipher GCM Open, as Vault returns it


def build():
    backups, keys_of = [], {}
    for spec in BACKUPS:
        entry, keys = make_backup(spec)
        backups.append(entry)
        keys_of[spec["name"]] = keys

    cases = []
    pay = keys_of["legacy-payments"]
    for v in (1, 2, 3):
        cases.append(decrypt_case("legacy-payments", pay, v, "card-no-aad", PLAINTEXTS["card"], b""))
        cases.append(decrypt_case("legacy-payments", pay, v, "card-with-aad", PLAINTEXTS["card"], AAD))
        cases.append(decrypt_case("legacy-payments", pay, v, "binary-256-no-aad", PLAINTEXTS["binary"], b""))
    cases.append(decrypt_case(
        "legacy-payments", pay, 3, "empty-no-aad", PLAINTEXTS["empty"], b"",
        note="version 3, empty plaintext: the shortest value, nonce and tag only (28 bytes)"))
    arc = keys_of["legacy-archived"]
    cases.append(decrypt_case(
        "legacy-archived", arc, 1, "card-with-aad", PLAINTEXTS["card"], AAD, below_min=True,
        note="version 1, below min_decryption_version 2: its key is only in archived_keys.keys[1]; Vault "
        "refuses it (\"ciphertext or signature version is disallowed by policy (too old)\") until "
        "min_decryption_version is lowered; the bytes open with the archived key"))
    cases.append(decrypt_case(
        "legacy-archived", arc, 1, "card-no-aad", PLAINTEXTS["card"], b"", below_min=True,
        note="version 1 (archived_keys only, below min_decryption_version), no associated data"))
    for v in (2, 3):
        cases.append(decrypt_case("legacy-archived", arc, v, "card-no-aad", PLAINTEXTS["card"], b""))
        cases.append(decrypt_case("legacy-archived", arc, v, "card-with-aad", PLAINTEXTS["card"], AAD))

    by_id = {c["id"]: c for c in cases}
    v2_aad = by_id["legacy-payments/v2/card-with-aad"]["ciphertext"]
    v2_plain = by_id["legacy-payments/v2/card-no-aad"]["ciphertext"]
    body_len = len(PLAINTEXTS["card"])
    sealed_len = 12 + body_len + 16
    cut = sealed_len - len(base64.b64decode(v2_aad.split(":", 2)[2][:-4]))
    rejects = [
        reject("tampered/ciphertext-bit", "legacy-payments", flip(v2_aad, 12), AAD, "authentication_failed",
               "one bit flipped in the first ciphertext byte (byte 12, right after the nonce)", AUTH_FAILED),
        reject("tampered/tag-bit", "legacy-payments", flip(v2_aad, 12 + body_len + 15), AAD,
               "authentication_failed", "one bit flipped in the last byte of the tag", AUTH_FAILED),
        reject("tampered/nonce-bit", "legacy-payments", flip(v2_aad, 0), AAD, "authentication_failed",
               "one bit flipped in the nonce's first byte", AUTH_FAILED),
        reject("wrong-aad/other", "legacy-payments", v2_aad, OTHER_AAD, "authentication_failed",
               "sealed with associated data merchant=acme;order=1001, given order=1002", AUTH_FAILED),
        reject("wrong-aad/missing", "legacy-payments", v2_aad, b"", "authentication_failed",
               "sealed with associated data, given none", AUTH_FAILED),
        reject("wrong-aad/unexpected", "legacy-payments", v2_plain, AAD, "authentication_failed",
               "sealed without associated data, given some", AUTH_FAILED),
        reject("version/relabelled", "legacy-payments", v2_aad.replace("vault:v2:", "vault:v3:", 1), AAD,
               "authentication_failed",
               "a version 2 value with its prefix changed to v3: version 3's key does not open it",
               AUTH_FAILED),
        reject("version/not-in-backup", "legacy-payments",
               seal(fixed("legacy-payments key v4 (never in the backup)"), 4,
                    fixed("legacy-payments v4 nonce", 12), PLAINTEXTS["card"], b""),
               b"", "unknown_version",
               "vault:v4: but the backup's latest_version is 3: no key version 4 was imported",
               "invalid ciphertext: version is too new"),
        reject("version/not-in-backup-archived", "legacy-archived",
               seal(fixed("legacy-archived key v7 (never in the backup)"), 7,
                    fixed("legacy-archived v7 nonce", 12), PLAINTEXTS["card"], AAD),
               AAD, "unknown_version",
               "vault:v7: but the backup's latest_version is 3 (and archived_keys has no index 7)",
               "invalid ciphertext: version is too new"),
        reject("truncated/tag", "legacy-payments", v2_aad[:-4], AAD, "authentication_failed",
               f"the last 4 base64 characters cut off ({cut} bytes of the tag): still valid base64, the tag "
               "no longer verifies", AUTH_FAILED),
        reject("truncated/below-nonce-and-tag", "legacy-payments",
               "vault:v2:" + b64(base64.b64decode(v2_aad.split(":", 2)[2])[:27]), AAD, "authentication_failed",
               "27 bytes: a nonce but less than a tag after it", AUTH_FAILED),
        reject("truncated/below-nonce", "legacy-payments",
               "vault:v2:" + b64(base64.b64decode(v2_aad.split(":", 2)[2])[:8]), AAD, "authentication_failed",
               "8 bytes: not even a whole nonce", "invalid ciphertext length"),
        reject("truncated/text", "legacy-payments", "vault:v2", b"", "malformed",
               "the text stops after the version: no ':' and no base64", "invalid ciphertext: wrong number of fields"),
        reject("malformed/base64", "legacy-payments", "vault:v2:" + v2_aad.split(":", 2)[2][:-1] + "!", AAD,
               "malformed", "a character outside standard base64 in the payload",
               "invalid ciphertext: could not decode base64"),
    ]
    cases.extend(rejects)

    return {
        "description": DESCRIPTION,
        "format": "vault-transit-v1",
        "vault_sources": VAULT_SOURCES,
        "backups": backups,
        "cases": cases,
    }


def render():
    return json.dumps(build(), indent=2) + "\n"


def main(argv):
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.name} differs from what make_vault_vectors.py makes: run it and commit the result",
                  file=sys.stderr)
            return 1
        print(f"ok: {OUT.name} is what make_vault_vectors.py makes")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
