// The cross-language vectors, offline: every valid case of tests/vectors/envelope-v1.json is
// rebuilt byte for byte and opened, every invalid one refused with the spec's variant and
// the client's error class, and every tests/vectors/envelope-made-by-*.json (made by the
// other clients' real seal paths) opens to its plaintext.

import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { AuthenticationFailedError, DATA_KEY_AAD, DataKey, FormatError, parseEnvelope, parseHeader } from "../src/index.js";

import { VECTORS_DIR } from "./harness.js";

interface ValidVector {
  type: "envelope";
  description: string;
  key_material_hex: string;
  key_name: string;
  key_version: number;
  data_key_hex: string;
  wrapped_key_hex: string;
  salt_hex: string;
  nonce_hex: string;
  plaintext_hex: string;
  associated_data_hex: string;
  value_hex: string;
}

interface InvalidVector {
  type: "invalid";
  description: string;
  value_hex: string;
  key_material_hex?: string;
  associated_data_hex?: string;
  expected_error: string;
}

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const vectors = JSON.parse(readFileSync(join(VECTORS_DIR, "envelope-v1.json"), "utf8")) as (ValidVector | InvalidVector)[];

/** Kind-0x01 decryption with the key version's material: what the server's Decrypt does. */
function unwrapWithMaterial(wrapped: Buffer, material: Buffer): Buffer {
  const header = parseHeader(wrapped);
  const n = header.keyName.length;
  const decipher = createDecipheriv("aes-256-gcm", material, wrapped.subarray(9 + n, 21 + n));
  decipher.setAAD(Buffer.concat([wrapped.subarray(0, 21 + n), DATA_KEY_AAD]));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(21 + n, wrapped.length - 16)), decipher.final()]);
  } catch {
    throw new AuthenticationFailedError("ciphertext failed authentication");
  }
}

/** Opens `value` as the Envelope does, with the server's Decrypt replaced by the material. */
function openWithMaterial(value: Buffer, material: Buffer, ad: Buffer): Buffer {
  const parsed = parseEnvelope(value);
  const dk = unwrapWithMaterial(parsed.wrappedKey, material);
  return new DataKey(parsed.keyName, parsed.keyVersion, dk, parsed.wrappedKey).open(parsed, ad);
}

describe("envelope-v1.json", () => {
  const valid = vectors.filter((v): v is ValidVector => v.type === "envelope");
  const invalid = vectors.filter((v): v is InvalidVector => v.type === "invalid");

  test("has valid and invalid cases", () => {
    assert.ok(valid.length >= 4, `${valid.length} valid`);
    assert.ok(invalid.length >= 10, `${invalid.length} invalid`);
  });

  for (const v of valid) {
    test(`opens and rebuilds byte for byte: ${v.description}`, () => {
      // DataKey checks the wrapped key against the name and version, as DataKey::new does.
      const key = new DataKey(v.key_name, v.key_version, hex(v.data_key_hex), hex(v.wrapped_key_hex));
      const parsed = parseEnvelope(hex(v.value_hex));
      assert.equal(parsed.keyName, v.key_name);
      assert.equal(parsed.keyVersion, v.key_version);
      assert.deepEqual(parsed.wrappedKey, hex(v.wrapped_key_hex));
      assert.deepEqual(key.open(parsed, hex(v.associated_data_hex)), hex(v.plaintext_hex));
      const rebuilt = key.sealWith(hex(v.salt_hex), hex(v.nonce_hex), hex(v.plaintext_hex), hex(v.associated_data_hex));
      assert.equal(rebuilt.toString("hex"), v.value_hex);
      // And the server's side of it: the wrapped key unwraps to the data key under the material.
      assert.deepEqual(unwrapWithMaterial(hex(v.wrapped_key_hex), hex(v.key_material_hex)), hex(v.data_key_hex));
    });
  }

  for (const v of invalid) {
    test(`refuses ${v.expected_error}: ${v.description}`, () => {
      const value = hex(v.value_hex);
      if (v.expected_error === "AuthenticationFailed") {
        assert.ok(v.key_material_hex !== undefined);
        assert.throws(
          () => openWithMaterial(value, hex(v.key_material_hex ?? ""), hex(v.associated_data_hex ?? "")),
          (e: unknown) => e instanceof AuthenticationFailedError,
        );
      } else {
        // Envelope.decrypt turns every FormatError into InvalidCiphertextError (tested live).
        assert.throws(
          () => parseEnvelope(value),
          (e: unknown) => e instanceof FormatError && e.variant === v.expected_error,
        );
      }
    });
  }
});

interface MadeBy {
  made_by: string;
  key_name: string;
  key_version: number;
  data_key_hex: string;
  wrapped_key_hex: string;
  cases: { description: string; plaintext_hex: string; associated_data_hex: string; value_hex: string }[];
}

describe("envelope-made-by-*.json", () => {
  const files = readdirSync(VECTORS_DIR).filter((f) => /^envelope-made-by-.*\.json$/.test(f));

  test("our own file is present", () => {
    assert.ok(files.includes("envelope-made-by-typescript.json"), files.join(", "));
  });

  for (const file of files) {
    test(`opens every value of ${file}`, () => {
      const made = JSON.parse(readFileSync(join(VECTORS_DIR, file), "utf8")) as MadeBy;
      const key = new DataKey(made.key_name, made.key_version, hex(made.data_key_hex), hex(made.wrapped_key_hex));
      assert.ok(made.cases.length >= 4, `${file}: ${made.cases.length} cases`);
      for (const c of made.cases) {
        const parsed = parseEnvelope(hex(c.value_hex));
        assert.deepEqual(parsed.wrappedKey, hex(made.wrapped_key_hex), `${file}: ${c.description}`);
        assert.deepEqual(key.open(parsed, hex(c.associated_data_hex)), hex(c.plaintext_hex), `${file}: ${c.description}`);
        // The associated data is bound: one more byte and the value is refused.
        assert.throws(
          () => key.open(parsed, Buffer.concat([hex(c.associated_data_hex), Buffer.from([0])])),
          AuthenticationFailedError,
        );
      }
    });
  }
});
