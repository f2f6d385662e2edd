// The cross-language vectors, offline: every valid case of tests/vectors/envelope-v1.json is
// rebuilt byte for byte and opened, every invalid one refused with the spec's variant and
// the client's error class, and every tests/vectors/envelope-made-by-*.json (made by the
// other clients' real seal paths) opens to its plaintext. tests/vectors/stream-v1.json: every
// stream is rebuilt byte for byte, read sequentially in small and odd-sized chunks and by byte
// ranges, and every invalid one refused with its variant.

import assert from "node:assert/strict";
import { createDecipheriv } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import {
  AuthenticationFailedError,
  DATA_KEY_AAD,
  DataKey,
  FormatError,
  InvalidCiphertextError,
  parseEnvelope,
  parseHeader,
  parseStreamHeader,
  STREAM_AUTH_FAILED,
} from "../src/index.js";
import { DecryptStream, decryptRangeWith, type RangeSource, sealStreamWith, streamLayout } from "../src/envelope/stream.js";

import { VECTORS_DIR } from "./harness.js";
import { localResolver, through, wrapLocally } from "./stream-helpers.js";

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

interface StreamVector {
  type: "stream";
  description: string;
  key_material_hex: string;
  key_name: string;
  key_version: number;
  wrapping_nonce_hex: string;
  data_key_hex: string;
  wrapped_key_hex: string;
  salt_hex: string;
  segment_size: number;
  stream_key_hex: string;
  plaintext_hex: string;
  associated_data_hex: string;
  value_hex: string;
}

describe("stream-v1.json", () => {
  const streams = JSON.parse(readFileSync(join(VECTORS_DIR, "stream-v1.json"), "utf8")) as (StreamVector | InvalidVector)[];
  const valid = streams.filter((v): v is StreamVector => v.type === "stream");
  const invalid = streams.filter((v): v is InvalidVector => v.type === "invalid");
  const source = (value: Buffer): RangeSource => ({ size: value.length, read: async (p, n) => value.subarray(p, p + n) });

  test("has stream and invalid cases", () => {
    assert.ok(valid.length >= 5, `${valid.length} streams`);
    assert.ok(invalid.length >= 8, `${invalid.length} invalid`);
  });

  for (const v of valid) {
    test(`rebuilds byte for byte, reads in chunks and by ranges: ${v.description}`, async () => {
      const material = hex(v.key_material_hex);
      const value = hex(v.value_hex);
      const plaintext = hex(v.plaintext_hex);
      const ad = hex(v.associated_data_hex);
      const S = v.segment_size;
      // The server's side: the wrapped key is the data key under the material with that nonce.
      assert.equal(wrapLocally(material, v.key_name, v.key_version, hex(v.data_key_hex), hex(v.wrapping_nonce_hex)).toString("hex"), v.wrapped_key_hex);
      const key = new DataKey(v.key_name, v.key_version, hex(v.data_key_hex), hex(v.wrapped_key_hex));
      const parsed = parseStreamHeader(value);
      assert.equal(parsed.keyName, v.key_name);
      assert.equal(parsed.keyVersion, v.key_version);
      assert.equal(parsed.segmentSize, S);
      assert.deepEqual(parsed.wrappedKey, hex(v.wrapped_key_hex));
      assert.deepEqual(parsed.salt, hex(v.salt_hex));
      assert.equal(parseHeader(value).kind, 0x04);
      assert.equal(key.streamKey(hex(v.salt_hex)).toString("hex"), v.stream_key_hex);
      assert.equal(sealStreamWith(key, hex(v.salt_hex), S, plaintext, ad).toString("hex"), v.value_hex);
      const layout = streamLayout(parsed.headerLen, S, value.length);
      assert.equal(layout.plaintextLen, plaintext.length);
      for (const sizes of [[1], [2, 3], [7], [13, 100], [S + 15, S + 17], [value.length]]) {
        const reader = new DecryptStream(localResolver(material, ad));
        assert.deepEqual(await through(reader, value, sizes), plaintext, `chunks of ${sizes.join(", ")}`);
      }
      const P = plaintext.length;
      const ranges: [number, number][] = [
        [0, P],
        [0, Math.min(1, P)],
        [Math.max(0, P - 1), P],
        [Math.max(0, Math.min(S, P) - 1), Math.min(S + 1, P)],
        [Math.floor(P / 2), Math.floor(P / 2)],
      ];
      for (const [a, b] of ranges) {
        assert.deepEqual(await decryptRangeWith(source(value), a, b, localResolver(material, ad)), plaintext.subarray(a, b), `[${a}, ${b})`);
      }
      // Other associated data is refused.
      await assert.rejects(through(new DecryptStream(localResolver(material, Buffer.concat([ad, Buffer.from([0])]))), value), AuthenticationFailedError);
      key.wipe();
    });
  }

  for (const v of invalid) {
    test(`refuses ${v.expected_error}: ${v.description}`, async () => {
      const value = hex(v.value_hex);
      const material = hex(v.key_material_hex ?? "00".repeat(32));
      const ad = hex(v.associated_data_hex ?? "");
      const chunked = [[value.length || 1], [1], [5, 11]];
      if (v.expected_error === "AuthenticationFailed") {
        assert.ok(v.key_material_hex !== undefined);
        for (const sizes of chunked) {
          await assert.rejects(through(new DecryptStream(localResolver(material, ad)), value, sizes), (e: unknown) => {
            assert.ok(e instanceof AuthenticationFailedError, String(e));
            assert.equal(e.message, STREAM_AUTH_FAILED);
            return true;
          });
        }
      } else {
        assert.throws(
          () => parseStreamHeader(value),
          (e: unknown) => e instanceof FormatError && e.variant === v.expected_error,
        );
        // The reader and the range reader turn it into InvalidCiphertextError, with the same message.
        const message = (() => {
          try {
            parseStreamHeader(value);
          } catch (e) {
            return (e as Error).message;
          }
          return "";
        })();
        for (const sizes of chunked) {
          await assert.rejects(through(new DecryptStream(localResolver(material, ad)), value, sizes), (e: unknown) => {
            assert.ok(e instanceof InvalidCiphertextError, String(e));
            assert.equal(e.message, message);
            return true;
          });
        }
        await assert.rejects(decryptRangeWith(source(value), 0, 0, localResolver(material, ad)), InvalidCiphertextError);
      }
    });
  }
});
