// The encrypted-column app: an SQLite table whose `secret` column holds Rekey envelope values,
// sealed locally under a cached data key with associated data = the row id, so a value copied
// to another row no longer decrypts. Run against a server: REKEY_ADDR and REKEY_TOKEN (or
// REKEY_TOKEN_FILE) as for any Rekey client; optional DB_PATH (default in-memory).

import Database from "better-sqlite3";

import { AuthenticationFailedError, Client } from "@rekey/client";

const KEY = "TOKEN_ENCRYPTION";

/** The associated data of a row's secret: its id, so the value is bound to the row. */
function rowAd(id: number | bigint): Buffer {
  return Buffer.from(`customers/${id}`);
}

async function main(): Promise<void> {
  const client = Client.fromEnv();
  // One data key serves every insert for five minutes (one GenerateDataKey call), and the
  // same process reads its rows back without a Decrypt call.
  const envelope = client.envelope(KEY, { maxAgeMs: 5 * 60_000 });
  const db = new Database(process.env.DB_PATH ?? ":memory:");
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS customers (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      secret BLOB NOT NULL
    )`);

    // Insert: the row id must be known before sealing, so take it from the insert of the row
    // with a placeholder, then seal with it and store the value.
    const insert = db.prepare("INSERT INTO customers (name, secret) VALUES (?, x'')");
    const setSecret = db.prepare("UPDATE customers SET secret = ? WHERE id = ?");
    const people = [
      { name: "Ada", secret: "4111 1111 1111 1111" },
      { name: "Grace", secret: "5500 0000 0000 0004" },
      { name: "Linus", secret: "3400 0000 0000 009" },
    ];
    const ids: bigint[] = [];
    for (const person of people) {
      const id = BigInt(insert.run(person.name).lastInsertRowid);
      setSecret.run(await envelope.encrypt(person.secret, rowAd(id)), id);
      ids.push(id);
    }
    console.log(`inserted ${ids.length} rows; the secret column holds envelope values only`);

    // Read back: each value opens with its own row id.
    const select = db.prepare<[bigint], { id: bigint; name: string; secret: Buffer }>(
      "SELECT id, name, secret FROM customers WHERE id = ?",
    );
    select.safeIntegers(true);
    for (const [i, id] of ids.entries()) {
      const row = select.get(id);
      if (row === undefined) {
        throw new Error(`row ${id} disappeared`);
      }
      if (row.secret.includes(Buffer.from(people[i]!.secret))) {
        throw new Error("the plaintext is stored in the table");
      }
      const secret = (await envelope.decrypt(row.secret, rowAd(row.id))).toString();
      if (secret !== people[i]!.secret) {
        throw new Error(`row ${id}: read back a different secret`);
      }
      console.log(`row ${row.id} (${row.name}): secret read back, ${row.secret.length}-byte value`);
    }

    // Swap: copy Ada's value into Grace's row. Grace's row id is the associated data now, so the
    // value is refused instead of showing Ada's secret as Grace's.
    const ada = select.get(ids[0]!);
    setSecret.run(ada?.secret, ids[1]!);
    const grace = select.get(ids[1]!);
    try {
      await envelope.decrypt(grace?.secret ?? Buffer.alloc(0), rowAd(ids[1]!));
      throw new Error("a value moved to another row decrypted: associated data is not bound");
    } catch (e) {
      if (!(e instanceof AuthenticationFailedError)) {
        throw e;
      }
      console.log(`row ${ids[1]} after the swap: refused (${e.name}), as it should be`);
    }

    const stats = envelope.stats();
    console.log(
      `GenerateDataKey calls: ${stats.encryptMisses}, Decrypt calls: ${stats.decryptMisses}, cache hits: ${stats.encryptHits + stats.decryptHits}`,
    );
  } finally {
    envelope.close();
    db.close();
    client.close();
  }
}

await main();
