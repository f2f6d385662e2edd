#!/usr/bin/env python3
"""`records`: a tiny service that keeps customer records in SQLite with one encrypted column.

The `secret` column holds Rekey envelope ciphertexts sealed on this machine by rekey-client: one
GenerateDataKey call serves thousands of rows (the data key is cached for REKEY_CACHE_SECS,
default 300 s), and every row still gets a key of its own. The row's id is the associated data,
so a ciphertext copied onto another row does not decrypt there.

    export REKEY_ADDR=http://127.0.0.1:50051 REKEY_TOKEN=...   # a client token for TOKEN_ENCRYPTION
    python records.py add alice "4111 1111 1111 1111"
    python records.py show
    python records.py demo        # insert, read back, and show that a swapped value is refused

Environment: what rekey_client.Client.from_env reads (REKEY_ADDR, REKEY_TOKEN or REKEY_TOKEN_FILE,
REKEY_CA_FILE, ...), plus RECORDS_DB (default records.db) and RECORDS_KEY (default
TOKEN_ENCRYPTION). Exit codes: 0 done, 1 failed, 2 usage.
"""

from __future__ import annotations

import os
import sqlite3
import sys

from rekey_client import AuthenticationFailedError, CachePolicy, Client, Envelope, RekeyError

USAGE = "usage: records.py add <name> <secret> | records.py show | records.py demo"


def open_db() -> sqlite3.Connection:
    db = sqlite3.connect(os.environ.get("RECORDS_DB", "records.db"))
    db.execute("CREATE TABLE IF NOT EXISTS records (id INTEGER PRIMARY KEY, name TEXT NOT NULL, secret BLOB)")
    return db


def row_ad(row_id: int) -> bytes:
    """The associated data of a row: its id, so a value is only valid on the row it was made for."""
    return f"records/{row_id}".encode()


def add(db: sqlite3.Connection, envelope: Envelope, name: str, secret: str) -> int:
    # The id must exist before sealing (it is the associated data): insert, then seal and update,
    # in one transaction so no row is ever left without its secret.
    with db:
        cursor = db.execute("INSERT INTO records (name) VALUES (?)", (name,))
        row_id = cursor.lastrowid
        assert row_id is not None
        sealed = envelope.encrypt(secret.encode(), row_ad(row_id))
        db.execute("UPDATE records SET secret = ? WHERE id = ?", (sealed, row_id))
    return row_id


def read(db: sqlite3.Connection, envelope: Envelope, row_id: int) -> str:
    (sealed,) = db.execute("SELECT secret FROM records WHERE id = ?", (row_id,)).fetchone()
    return envelope.decrypt(sealed, row_ad(row_id)).decode()


def show(db: sqlite3.Connection, envelope: Envelope) -> None:
    for row_id, name in db.execute("SELECT id, name FROM records ORDER BY id").fetchall():
        print(f"{row_id}\t{name}\t{read(db, envelope, row_id)}")


def demo(db: sqlite3.Connection, envelope: Envelope) -> None:
    people = {"alice": "4111 1111 1111 1111", "bob": "5500 0000 0000 0004", "carol": "3400 0000 0000 009"}
    ids = {name: add(db, envelope, name, secret) for name, secret in people.items()}
    print(f"inserted {len(ids)} rows")

    for name, row_id in ids.items():
        assert read(db, envelope, row_id) == people[name], name
    print("read back every row")

    for (sealed,) in db.execute("SELECT secret FROM records").fetchall():
        assert sealed[:4] == b"RK\x01\x03", "the column holds envelope ciphertexts"
        assert not any(secret.encode() in sealed for secret in people.values()), "and no plaintext"
    print("the secret column holds envelope ciphertexts (RK 01 03 ...), no plaintext")

    # An attacker with write access to the table swaps alice's and bob's secrets.
    alice, bob = ids["alice"], ids["bob"]
    with db:
        (a,) = db.execute("SELECT secret FROM records WHERE id = ?", (alice,)).fetchone()
        (b,) = db.execute("SELECT secret FROM records WHERE id = ?", (bob,)).fetchone()
        db.execute("UPDATE records SET secret = ? WHERE id = ?", (b, alice))
        db.execute("UPDATE records SET secret = ? WHERE id = ?", (a, bob))
    for row_id in (alice, bob):
        try:
            read(db, envelope, row_id)
        except AuthenticationFailedError:
            print(f"row {row_id}: swapped value refused (AuthenticationFailedError), as it must be")
        else:
            raise AssertionError(f"row {row_id}: a value moved from another row decrypted")
    stats = envelope.stats()
    print(f"calls to Rekey: {stats.encrypt_misses} GenerateDataKey, {stats.decrypt_misses} Decrypt; {stats}")


def main(argv: list[str]) -> int:
    if not (argv[:1] == ["add"] and len(argv) == 3 or argv in (["show"], ["demo"])):
        print(USAGE, file=sys.stderr)
        return 2
    key = os.environ.get("RECORDS_KEY", "TOKEN_ENCRYPTION")
    max_age = float(os.environ.get("REKEY_CACHE_SECS", "300"))
    db = open_db()
    try:
        with Client.from_env() as client:
            envelope = client.envelope(key, CachePolicy(max_age=max_age))
            if argv[0] == "add":
                print(add(db, envelope, argv[1], argv[2]))
            elif argv[0] == "show":
                show(db, envelope)
            else:
                demo(db, envelope)
    except RekeyError as e:
        print(f"records: error: {e}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
