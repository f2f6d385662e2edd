// Writes tests/vectors/envelope-made-by-typescript.json: values sealed by this client's real seal
// path (DataKey.seal, fresh random salt and nonce) under the data key and wrapped key of the
// "worked example" vector of envelope-v1.json, so the wrapped key is a genuine kind-0x01 value.
// The other clients' suites open every case. Run: npm run make-vectors

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { DataKey } from "../src/index.js";

const VECTORS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..", "tests", "vectors");

interface WorkedExample {
  description: string;
  key_name: string;
  key_version: number;
  data_key_hex: string;
  wrapped_key_hex: string;
}

const all = JSON.parse(readFileSync(join(VECTORS_DIR, "envelope-v1.json"), "utf8")) as WorkedExample[];
const example = all.find((v) => v.description === "worked example");
if (example === undefined) {
  throw new Error("envelope-v1.json has no worked example");
}
const key = new DataKey(
  example.key_name,
  example.key_version,
  Buffer.from(example.data_key_hex, "hex"),
  Buffer.from(example.wrapped_key_hex, "hex"),
);

const kib = Buffer.alloc(1024);
for (let i = 0; i < kib.length; i++) {
  kib[i] = (i * 7 + 3) & 0xff;
}
const inputs: { description: string; plaintext: Buffer; associatedData: Buffer }[] = [
  { description: "empty plaintext", plaintext: Buffer.alloc(0), associatedData: Buffer.from("row=1") },
  { description: "empty associated data", plaintext: Buffer.from("hello from typescript"), associatedData: Buffer.alloc(0) },
  { description: "empty plaintext and empty associated data", plaintext: Buffer.alloc(0), associatedData: Buffer.alloc(0) },
  { description: "1 KiB plaintext", plaintext: kib, associatedData: Buffer.from("row=1024") },
  { description: "binary associated data", plaintext: Buffer.from("binary ad"), associatedData: Buffer.from([0x00, 0xff, 0x01, 0xfe, 0x80, 0x7f, 0x00]) },
  { description: "UTF-8 plaintext", plaintext: Buffer.from("clé secrète ✓", "utf8"), associatedData: Buffer.from("tenant=é") },
];

const out = {
  made_by: "typescript",
  key_name: example.key_name,
  key_version: example.key_version,
  data_key_hex: example.data_key_hex,
  wrapped_key_hex: example.wrapped_key_hex,
  cases: inputs.map((c) => ({
    description: c.description,
    plaintext_hex: c.plaintext.toString("hex"),
    associated_data_hex: c.associatedData.toString("hex"),
    value_hex: key.seal(c.plaintext, c.associatedData).toString("hex"),
  })),
};
const file = join(VECTORS_DIR, "envelope-made-by-typescript.json");
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${out.cases.length} cases to ${file}`);
