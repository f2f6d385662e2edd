// Stream ciphertexts (kind 0x04) offline: the header's format checks and messages, the layout
// math against the spec's worked example, and the sequential writer and reader against the
// in-memory sealer, with the server's Decrypt replaced by AES-GCM under a local key material.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";

import {
  AuthenticationFailedError,
  DataKey,
  FormatError,
  InvalidArgumentError,
  InvalidCiphertextError,
  kindName,
  parseEnvelope,
  parseHeader,
  parseStreamHeader,
  STREAM_AUTH_FAILED,
  streamHeaderLen,
} from "../src/index.js";
import {
  beginStream,
  DecryptStream,
  decryptRangeWith,
  EncryptStream,
  type RangeSource,
  sealStreamWith,
  segmentCount,
  segmentNonce,
  segmentPlaintextLen,
  segmentsForRange,
  segmentSpan,
  streamCiphertextLen,
  streamLayout,
} from "../src/envelope/stream.js";

import { localResolver, through, wrapLocally } from "./stream-helpers.js";

const MATERIAL = Buffer.alloc(32, 0x42);
const NAME = "files.backup";

function localKey(version = 3): DataKey {
  const dk = randomBytes(32);
  return new DataKey(NAME, version, dk, wrapLocally(MATERIAL, NAME, version, dk));
}

describe("stream header format", () => {
  const key = localKey(7);
  const value = sealStreamWith(key, Buffer.alloc(16, 0x5a), 256, Buffer.from("hello stream"), Buffer.alloc(0));
  const H = streamHeaderLen(NAME.length);

  test("the common header accepts kind 0x04 and names it a stream ciphertext", () => {
    assert.deepEqual(parseHeader(value), { kind: 0x04, keyName: NAME, keyVersion: 7 });
    assert.equal(kindName(0x04), "a stream ciphertext");
    const parsed = parseStreamHeader(value);
    assert.equal(parsed.headerLen, 98 + 2 * NAME.length);
    assert.equal(parsed.segmentSize, 256);
    assert.deepEqual(parsed.wrappedKey, key.wrappedKey);
    assert.deepEqual(parsed.salt, Buffer.alloc(16, 0x5a));
    assert.equal(value.length, H + 12 + 16);
  });

  test("the envelope parser refuses a stream; the stream parser refuses an envelope", () => {
    assert.throws(
      () => parseEnvelope(value),
      (e: unknown) =>
        e instanceof FormatError &&
        e.variant === "NotEnvelopeCiphertext" &&
        e.message === "not an envelope ciphertext: found a stream ciphertext, expected kind 0x03",
    );
    const envelopeValue = key.seal(Buffer.from("x"), Buffer.alloc(0));
    assert.throws(
      () => parseStreamHeader(envelopeValue),
      (e: unknown) =>
        e instanceof FormatError &&
        e.variant === "NotStreamCiphertext" &&
        e.message === "not a stream ciphertext: found an envelope ciphertext, expected kind 0x04",
    );
  });

  test("kind 0x05 is unknown, with the spec's message", () => {
    const other = Buffer.from(value);
    other[3] = 0x05;
    assert.throws(
      () => parseHeader(other),
      (e: unknown) =>
        e instanceof FormatError &&
        e.variant === "UnknownKind" &&
        e.message ===
          "unknown ciphertext kind 0x05; expected 0x01 (AES-256-GCM ciphertext), 0x02 (HMAC-SHA256 signature), 0x03 (envelope ciphertext) or 0x04 (stream ciphertext)",
    );
  });

  test("segment size outside [256, 1048576] → InvalidSegmentSize", () => {
    for (const size of [0, 255, 1_048_577, 0xffff_ffff]) {
      const bad = Buffer.from(value);
      bad.writeUInt32BE(size, H - 4);
      assert.throws(
        () => parseStreamHeader(bad),
        (e: unknown) =>
          e instanceof FormatError &&
          e.variant === "InvalidSegmentSize" &&
          e.message === `stream ciphertext has an invalid segment size of ${size} bytes; it must be between 256 and 1048576`,
      );
    }
    for (const size of [256, 1_048_576]) {
      const good = Buffer.from(value);
      good.writeUInt32BE(size, H - 4);
      assert.equal(parseStreamHeader(good).segmentSize, size);
    }
  });

  test("ending inside the header → TooShort; no segment after it → AuthenticationFailed; a broken wrapped key → InvalidWrappedKey", async () => {
    assert.throws(
      () => parseStreamHeader(value.subarray(0, H - 1)),
      (e: unknown) =>
        e instanceof FormatError &&
        e.variant === "TooShort" &&
        e.message === `ciphertext is truncated: ${H - 1} bytes, a valid one has at least ${H + 16}`,
    );
    assert.equal(parseStreamHeader(value.subarray(0, H)).segmentSize, 256);
    // Another kind is refused once its key name and version are read, before its own length checks.
    const envelopeValue = key.seal(Buffer.from("x"), Buffer.alloc(0));
    assert.throws(() => parseStreamHeader(envelopeValue.subarray(0, 9 + NAME.length)), (e: unknown) => e instanceof FormatError && e.variant === "NotStreamCiphertext");
    // The header with no segment, or part of a tag, is a truncated stream.
    for (const cut of [H, H + 1, H + 15]) {
      await assert.rejects(through(new DecryptStream(localResolver(MATERIAL, Buffer.alloc(0))), value.subarray(0, cut)), (e: unknown) => {
        assert.ok(e instanceof AuthenticationFailedError);
        assert.equal(e.message, STREAM_AUTH_FAILED);
        return true;
      });
      const truncated = value.subarray(0, cut);
      const source: RangeSource = { size: cut, read: async (p, n) => truncated.subarray(p, p + n) };
      await assert.rejects(decryptRangeWith(source, 0, 0, localResolver(MATERIAL, Buffer.alloc(0))), AuthenticationFailedError);
    }
    await assert.rejects(through(new DecryptStream(localResolver(MATERIAL, Buffer.alloc(0))), value.subarray(0, H - 1)), InvalidCiphertextError);
    const bad = Buffer.from(value);
    bad[9 + NAME.length + 3] = 0x02; // the wrapped key's kind
    assert.throws(() => parseStreamHeader(bad), (e: unknown) => e instanceof FormatError && e.variant === "InvalidWrappedKey");
    const otherVersion = Buffer.from(value);
    otherVersion.writeUInt32BE(8, 5 + NAME.length); // header version no longer the wrapped key's
    assert.throws(
      () => parseStreamHeader(otherVersion),
      (e: unknown) => e instanceof FormatError && e.variant === "InvalidWrappedKey",
    );
  });
});

describe("layout math", () => {
  test("the spec's worked example: S = 256, P = 600, files.backup", () => {
    const H = streamHeaderLen(12);
    assert.equal(H, 122);
    assert.equal(segmentCount(600, 256), 3);
    assert.equal(streamCiphertextLen(H, 600, 256), 770);
    const layout = streamLayout(H, 256, 770);
    assert.deepEqual(layout, { headerLen: 122, segmentSize: 256, totalLen: 770, segments: 3, plaintextLen: 600 });
    assert.deepEqual(
      [0, 1, 2].map((i) => segmentSpan(layout, i)),
      [
        [122, 394],
        [394, 666],
        [666, 770],
      ],
    );
    assert.deepEqual([0, 1, 2, 3].map((i) => segmentPlaintextLen(i, 600, 256)), [256, 256, 88, 0]);
    assert.equal(segmentNonce(1, false).toString("hex"), "00000000000000" + "00000001" + "00");
    assert.equal(segmentNonce(2, true).toString("hex"), "00000000000000" + "00000002" + "01");
  });

  test("counts, edges and ranges", () => {
    assert.equal(segmentCount(0, 256), 1);
    assert.equal(segmentCount(1, 256), 1);
    assert.equal(segmentCount(256, 256), 1);
    assert.equal(segmentCount(257, 256), 2);
    assert.equal(streamCiphertextLen(100, 0, 256), 116);
    assert.equal(streamCiphertextLen(100, 512, 256), 100 + 512 + 32);
    assert.deepEqual(streamLayout(100, 256, 116), { headerLen: 100, segmentSize: 256, totalLen: 116, segments: 1, plaintextLen: 0 });
    assert.equal(streamLayout(100, 256, 100 + 272 + 17).plaintextLen, 257);
    // The last segment would be shorter than a tag: no stream has this length.
    assert.throws(() => streamLayout(100, 256, 100 + 272 + 15), AuthenticationFailedError);
    assert.throws(() => streamLayout(100, 256, 115), AuthenticationFailedError);
    assert.deepEqual(segmentsForRange(0, 1, 256), [0, 0]);
    assert.deepEqual(segmentsForRange(255, 257, 256), [0, 1]);
    assert.deepEqual(segmentsForRange(256, 512, 256), [1, 1]);
    assert.deepEqual(segmentsForRange(0, 600, 256), [0, 2]);
  });
});

describe("writer and reader offline", () => {
  const sizes = [0, 1, 255, 256, 257, 512, 513, 1000];

  test("the streaming writer produces the in-memory sealer's bytes, whatever the chunking", async () => {
    for (const len of sizes) {
      const plaintext = randomBytes(len);
      const key = localKey();
      const salt = randomBytes(16);
      const ad = Buffer.from("obj/1");
      const expected = sealStreamWith(key, salt, 256, plaintext, ad);
      for (const chunking of [[1], [7, 300], [256], [100_000]]) {
        const writer = new EncryptStream(256, async () => beginStream(key, salt, 256, ad));
        assert.deepEqual(await through(writer, plaintext, chunking), expected, `P = ${len}, chunks ${chunking.join(",")}`);
      }
      assert.equal(expected.length, streamCiphertextLen(streamHeaderLen(NAME.length), len, 256));
    }
  });

  test("the reader opens any chunking, and ranges equal the slice", async () => {
    for (const len of sizes) {
      const plaintext = randomBytes(len);
      const key = localKey();
      const ad = Buffer.from("obj/2");
      const value = sealStreamWith(key, randomBytes(16), 256, plaintext, ad);
      for (const chunking of [[1], [3, 5], [17], [271, 273], [value.length]]) {
        const reader = new DecryptStream(localResolver(MATERIAL, ad));
        assert.deepEqual(await through(reader, value, chunking), plaintext, `P = ${len}, chunks ${chunking.join(",")}`);
      }
      const source: RangeSource = { size: value.length, read: async (pos, n) => value.subarray(pos, pos + n) };
      for (const [a, b] of [
        [0, len],
        [0, Math.min(1, len)],
        [Math.max(0, len - 1), len],
        [Math.min(200, len), Math.min(300, len)],
        [Math.min(256, len), Math.min(256, len)],
      ] as [number, number][]) {
        const got = await decryptRangeWith(source, a, b, localResolver(MATERIAL, ad));
        assert.deepEqual(got, plaintext.subarray(a, b), `P = ${len}, [${a}, ${b})`);
      }
    }
  });

  test("the reader refuses a 0x03 value, garbage and an empty input with InvalidCiphertextError", async () => {
    const key = localKey();
    for (const bad of [key.seal(Buffer.from("x"), Buffer.alloc(0)), Buffer.from("garbage garbage"), Buffer.alloc(0)]) {
      await assert.rejects(through(new DecryptStream(localResolver(MATERIAL, Buffer.alloc(0))), bad), InvalidCiphertextError);
    }
  });

  test("a segment truncated inside its tag, or a flipped byte → the shared AuthenticationFailed message", async () => {
    const key = localKey();
    const value = sealStreamWith(key, randomBytes(16), 256, randomBytes(600), Buffer.alloc(0));
    for (const bad of [value.subarray(0, value.length - 104 + 10), value.subarray(0, value.length - 1)]) {
      await assert.rejects(through(new DecryptStream(localResolver(MATERIAL, Buffer.alloc(0))), bad), (e: unknown) => {
        assert.ok(e instanceof AuthenticationFailedError);
        assert.equal(e.message, STREAM_AUTH_FAILED);
        return true;
      });
    }
  });

  test("bad ranges → InvalidArgumentError", async () => {
    const key = localKey();
    const value = sealStreamWith(key, randomBytes(16), 256, randomBytes(300), Buffer.alloc(0));
    const source: RangeSource = { size: value.length, read: async (pos, n) => value.subarray(pos, pos + n) };
    const resolve = localResolver(MATERIAL, Buffer.alloc(0));
    for (const [a, b] of [
      [5, 4],
      [0, 301],
      [-1, 3],
      [0.5, 3],
    ] as [number, number][]) {
      await assert.rejects(decryptRangeWith(source, a, b, resolve), InvalidArgumentError, `[${a}, ${b})`);
    }
    assert.throws(() => new EncryptStream(255, async () => beginStream(key, randomBytes(16), 256, Buffer.alloc(0))), InvalidArgumentError);
  });
});
