// The cross-language live check driver (shared contract): with REKEY_ADDR and REKEY_TOKEN from
// the environment and key TOKEN_ENCRYPTION,
//   node build/tools/cross.js encrypt OUT.json   writes 20 values made by this client's Envelope
//   node build/tools/cross.js decrypt IN.json    opens every value of a file made by any client
// `decrypt` exits 0 when every plaintext matches, else prints which value failed and exits 1.

import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

import { Client } from "../src/index.js";

const KEY = "TOKEN_ENCRYPTION";

interface CrossFile {
  made_by: string;
  key_name: string;
  values: { plaintext_hex: string; associated_data_hex: string; value_hex: string }[];
}

/** 20 inputs: sizes 0, 1, 1024 and 100000 among them, text and binary, with and without AD. */
function inputs(): { plaintext: Buffer; associatedData: Buffer }[] {
  const sizes = [0, 1, 1024, 100_000, 2, 15, 16, 17, 31, 32, 33, 64, 255, 256, 4096, 65_536, 7, 100, 1000, 12_345];
  return sizes.map((size, i) => ({
    plaintext: i % 2 === 0 ? randomBytes(size) : Buffer.alloc(size, `text ${i} `),
    associatedData: i % 3 === 0 ? Buffer.alloc(0) : i % 3 === 1 ? Buffer.from(`row=${i}`) : randomBytes(9),
  }));
}

async function encrypt(client: Client, out: string): Promise<void> {
  const envelope = client.envelope(KEY, { maxAgeMs: 5 * 60_000 });
  const values = [];
  for (const { plaintext, associatedData } of inputs()) {
    const value = await envelope.encrypt(plaintext, associatedData);
    values.push({
      plaintext_hex: plaintext.toString("hex"),
      associated_data_hex: associatedData.toString("hex"),
      value_hex: value.toString("hex"),
    });
  }
  envelope.close();
  const file: CrossFile = { made_by: "typescript", key_name: KEY, values };
  writeFileSync(out, `${JSON.stringify(file, null, 1)}\n`);
  console.log(`wrote ${values.length} values to ${out}`);
}

async function decrypt(client: Client, input: string): Promise<number> {
  const file = JSON.parse(readFileSync(input, "utf8")) as CrossFile;
  const envelope = client.envelope(file.key_name, { maxAgeMs: 5 * 60_000 });
  let failed = 0;
  for (const [i, v] of file.values.entries()) {
    try {
      const opened = await envelope.decrypt(Buffer.from(v.value_hex, "hex"), Buffer.from(v.associated_data_hex, "hex"));
      if (opened.toString("hex") !== v.plaintext_hex) {
        console.error(`value ${i} (made by ${file.made_by}): wrong plaintext`);
        failed++;
      }
    } catch (e) {
      console.error(`value ${i} (made by ${file.made_by}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      failed++;
    }
  }
  envelope.close();
  if (failed === 0) {
    console.log(`opened all ${file.values.length} values made by ${file.made_by}`);
  }
  return failed === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const [command, path] = process.argv.slice(2);
  if ((command !== "encrypt" && command !== "decrypt") || path === undefined) {
    console.error("usage: cross.js encrypt OUT.json | decrypt IN.json   (env: REKEY_ADDR, REKEY_TOKEN)");
    return 2;
  }
  const client = Client.fromEnv();
  try {
    if (command === "encrypt") {
      await encrypt(client, path);
      return 0;
    }
    return await decrypt(client, path);
  } finally {
    client.close();
  }
}

process.exitCode = await main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  return 1;
});
