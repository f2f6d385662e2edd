// Stream ciphertexts (kind 0x04) through the Envelope against a real `rekey serve`: file-to-file
// round trips with pipeline(), every tampering a reader must refuse, byte ranges (exact slices,
// reading only the segments they need), refusals, backpressure, and the data-key caches
// (GenerateDataKey and Decrypt calls counted from the server's /metrics).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailedError,
  Client,
  DATA_KEY_AAD,
  DataKey,
  type Envelope,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  parseStreamHeader,
  type RangeSource,
  STREAM_AUTH_FAILED,
  streamHeaderLen,
} from "../src/index.js";
import { sealStreamWith, streamCipher, streamCiphertextLen } from "../src/envelope/stream.js";

import { KEY, type Server, startServer } from "./harness.js";
import { through } from "./stream-helpers.js";

let server: Server;
let client: Client;
let dir: string;

before(async () => {
  server = await startServer();
  client = server.client();
  dir = mkdtempSync(join(tmpdir(), "rekey-ts-stream-"));
});
after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const GENERATE = "KeyService/GenerateDataKey";
const DECRYPT = "KeyService/Decrypt";
const H = streamHeaderLen(KEY.length);

async function callsDuring(rpc: string, body: () => Promise<void>): Promise<number> {
  const before = await server.rpcCount(rpc);
  await body();
  return (await server.rpcCount(rpc)) - before;
}

function envelope(): Envelope {
  return client.envelope(KEY, { maxAgeMs: 60_000 });
}

/** Runs `value` through a decrypt stream; resolves to the plaintext or rejects with its error. */
function decryptAll(env: Envelope, value: Buffer, ad: string | Buffer = "", sizes?: number[]): Promise<Buffer> {
  return through(env.createDecryptStream({ associatedData: ad }), value, sizes);
}

/** Runs `value` through a decrypt stream; the error, and the plaintext released before it. */
async function failure(env: Envelope, value: Buffer, ad: string | Buffer = ""): Promise<{ error: unknown; released: Buffer; ended: boolean }> {
  const out: Buffer[] = [];
  const decrypt = env.createDecryptStream({ associatedData: ad });
  let ended = false;
  decrypt.on("end", () => {
    ended = true;
  });
  try {
    await pipeline(
      Readable.from([value]),
      decrypt,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          out.push(chunk);
          done();
        },
      }),
    );
  } catch (error) {
    return { error, released: Buffer.concat(out), ended };
  }
  return { error: undefined, released: Buffer.concat(out), ended };
}

function isStreamAuthFailure(e: unknown): boolean {
  return e instanceof AuthenticationFailedError && e.message === STREAM_AUTH_FAILED;
}

describe("round trips", () => {
  test("file to file with pipeline(): empty, 1 byte, exactly S, S + 1, several segments", async () => {
    const env = envelope();
    const cases: [string, number, number | undefined][] = [
      ["empty", 0, 256],
      ["1 byte", 1, 256],
      ["exactly S", 256, 256],
      ["S + 1", 257, 256],
      ["several segments", 5 * 256 + 77, 256],
      ["exactly 3 S", 3 * 256, 256],
      ["default S, several segments", 3 * 65_536 + 5, undefined],
      ["default S, exactly S", 65_536, undefined],
    ];
    for (const [name, len, segmentSize] of cases) {
      const plaintext = randomBytes(len);
      const src = join(dir, `plain-${len}`);
      const sealed = join(dir, `sealed-${len}.rk`);
      const opened = join(dir, `opened-${len}`);
      writeFileSync(src, plaintext);
      await pipeline(
        createReadStream(src, { highWaterMark: 1000 }),
        env.createEncryptStream({ associatedData: `file ${len}`, segmentSize }),
        createWriteStream(sealed),
      );
      const value = readFileSync(sealed);
      const S = segmentSize ?? 65_536;
      assert.equal(value.length, streamCiphertextLen(H, len, S), name);
      const header = parseStreamHeader(value);
      assert.equal(header.segmentSize, S, name);
      assert.equal(header.keyName, KEY);
      await pipeline(createReadStream(sealed), env.createDecryptStream({ associatedData: Buffer.from(`file ${len}`) }), createWriteStream(opened));
      assert.deepEqual(readFileSync(opened), plaintext, name);
      // A fresh envelope (no cached key) opens it too, through Decrypt, in odd-sized chunks.
      const reader = envelope();
      assert.deepEqual(await decryptAll(reader, value, `file ${len}`, [1, 13, 300]), plaintext, name);
      reader.close();
    }
    env.close();
  });

  test("chunks of any size in, the same stream out; each stream has its own salt", async () => {
    const env = envelope();
    assert.ok(env.createEncryptStream() instanceof Transform);
    assert.ok(env.createDecryptStream() instanceof Transform);
    const plaintext = randomBytes(10_000);
    const a = await through(env.createEncryptStream({ segmentSize: 1024 }), plaintext, [1, 1023, 1024, 1025, 5000]);
    const b = await through(env.createEncryptStream({ segmentSize: 1024 }), plaintext, [plaintext.length]);
    assert.notDeepEqual(parseStreamHeader(a).salt, parseStreamHeader(b).salt);
    assert.deepEqual(await decryptAll(env, a), plaintext);
    assert.deepEqual(await decryptAll(env, b), plaintext);
    env.close();
  });
});

describe("tampering → AuthenticationFailedError", () => {
  const S = 256;
  const ad = "bucket/object-7";
  const plaintext = randomBytes(3 * S + 100); // segments of 256, 256, 256, 100 bytes
  let value: Buffer;
  let env: Envelope;
  let segs: Buffer[];
  let head: Buffer;

  before(async () => {
    env = envelope();
    value = await through(env.createEncryptStream({ associatedData: ad, segmentSize: S }), plaintext);
    head = value.subarray(0, H);
    segs = [];
    for (let at = H; at < value.length; at += S + 16) {
      segs.push(value.subarray(at, Math.min(at + S + 16, value.length)));
    }
    assert.equal(segs.length, 4);
  });
  after(() => env.close());

  const cases: [string, () => Buffer][] = [
    ["truncated at a segment boundary", () => Buffer.concat([head, ...segs.slice(0, 3)])],
    ["truncated at the first segment boundary", () => Buffer.concat([head, segs[0]!])],
    ["truncated in the middle of the last segment", () => Buffer.concat([head, ...segs.slice(0, 3), segs[3]!.subarray(0, 50)])],
    ["truncated in the middle of a middle segment", () => Buffer.concat([head, segs[0]!, segs[1]!.subarray(0, 100)])],
    ["truncated inside the last tag", () => value.subarray(0, value.length - 5)],
    ["the header and 10 bytes of a segment", () => Buffer.concat([head, segs[0]!.subarray(0, 20)])],
    ["two segments reordered", () => Buffer.concat([head, segs[1]!, segs[0]!, segs[2]!, segs[3]!])],
    ["a segment duplicated", () => Buffer.concat([head, segs[0]!, segs[1]!, segs[1]!, segs[2]!, segs[3]!])],
    ["a middle segment dropped", () => Buffer.concat([head, segs[0]!, segs[2]!, segs[3]!])],
    ["a segment appended", () => Buffer.concat([value, segs[0]!])],
    ["one byte appended", () => Buffer.concat([value, Buffer.from([0])])],
    ["a ciphertext byte flipped", () => flip(value, H + S + 16 + 10)],
    ["a tag byte flipped", () => flip(value, value.length - 1)],
    ["the salt changed", () => flip(value, H - 5)],
  ];
  for (const [name, make] of cases) {
    test(name, async () => {
      const { error, released, ended } = await failure(env, make(), ad);
      assert.ok(isStreamAuthFailure(error), `${name}: ${String(error)}`);
      assert.equal(ended, false, "the stream never ends cleanly");
      // Only authenticated segments were released, and only a prefix of the payload.
      assert.deepEqual(released, plaintext.subarray(0, released.length));
      assert.equal(released.length % S, 0);
    });
  }

  test("no plaintext of a failed first segment is released", async () => {
    const { error, released } = await failure(env, Buffer.concat([head, segs[1]!, segs[0]!, segs[2]!, segs[3]!]), ad);
    assert.ok(isStreamAuthFailure(error));
    assert.equal(released.length, 0);
  });

  test("a flipped last flag: the last segment sealed as not last, a middle one sealed as last", async () => {
    // The data key, unwrapped through the server, to reseal segments with the wrong flag.
    const header = parseStreamHeader(value);
    const dk = Buffer.from((await client.decrypt({ ciphertext: header.wrappedKey, associatedData: DATA_KEY_AAD })).plaintext);
    const key = new DataKey(KEY, header.keyVersion, dk, header.wrappedKey);
    const cipher = streamCipher(key, header, Buffer.from(ad));
    const lastPlain = cipher.open(3, true, segs[3]!);
    const middlePlain = cipher.open(1, false, segs[1]!);
    const lastNotLast = Buffer.concat([head, segs[0]!, segs[1]!, segs[2]!, cipher.seal(3, false, lastPlain)]);
    const middleLast = Buffer.concat([head, segs[0]!, cipher.seal(1, true, middlePlain), segs[2]!, segs[3]!]);
    // A stream cut after a middle segment resealed as last opens (the key holder made it), so
    // check the flag is what decides: truncated there with the genuine flag fails.
    const cutWithFlag = Buffer.concat([head, segs[0]!, cipher.seal(1, true, middlePlain)]);
    cipher.wipe();
    key.wipe();
    for (const bad of [lastNotLast, middleLast]) {
      const { error } = await failure(env, bad, ad);
      assert.ok(isStreamAuthFailure(error), String(error));
    }
    assert.deepEqual(await decryptAll(env, cutWithFlag, ad), plaintext.subarray(0, 2 * S));
    assert.ok(isStreamAuthFailure((await failure(env, Buffer.concat([head, segs[0]!, segs[1]!]), ad)).error));
  });

  test("other associated data, and none", async () => {
    for (const other of ["bucket/object-8", "", Buffer.from(ad + "\0")]) {
      const { error, released } = await failure(env, value, other);
      assert.ok(isStreamAuthFailure(error));
      assert.equal(released.length, 0);
    }
    assert.deepEqual(await decryptAll(env, value, ad), plaintext);
  });
});

function flip(value: Buffer, at: number): Buffer {
  const copy = Buffer.from(value);
  copy[at]! ^= 0x01;
  return copy;
}

describe("byte ranges", () => {
  const S = 256;
  const plaintext = randomBytes(4 * S + 30); // 5 segments
  const P = plaintext.length;
  let value: Buffer;
  let env: Envelope;

  before(async () => {
    env = envelope();
    value = await through(env.createEncryptStream({ associatedData: "r", segmentSize: S }), plaintext);
  });
  after(() => env.close());

  /** A source over `value` that counts its read calls. */
  function counting(): RangeSource & { reads: [number, number][] } {
    const reads: [number, number][] = [];
    return {
      reads,
      size: value.length,
      async read(position: number, length: number): Promise<Uint8Array> {
        reads.push([position, length]);
        return value.subarray(position, position + length);
      },
    };
  }

  const ranges: [string, number, number, number][] = [
    // name, start, end, segments read
    ["the first byte", 0, 1, 1],
    ["the last byte", P - 1, P, 1],
    ["across a boundary", S - 3, S + 3, 2],
    ["exactly one segment", S, 2 * S, 1],
    ["across three boundaries", S - 1, 3 * S + 1, 4],
    ["the whole payload", 0, P, 5],
    ["an empty range", 10, 10, 0],
    ["an empty range at the end", P, P, 0],
  ];
  for (const [name, start, end, segments] of ranges) {
    test(`${name}: exactly the slice, reading only the segments it needs`, async () => {
      const source = counting();
      const got = await env.decryptRange(source, start, end, { associatedData: "r" });
      assert.deepEqual(got, plaintext.subarray(start, end));
      // One read for the header, then one per segment.
      assert.equal(source.reads.length, 1 + segments, JSON.stringify(source.reads));
      for (const [position, length] of source.reads.slice(1)) {
        assert.ok(position >= H && (position - H) % (S + 16) === 0, `read at ${position}`);
        assert.ok(length <= S + 16);
      }
    });
  }

  test("from a FileHandle", async () => {
    const file = join(dir, "ranges.rk");
    writeFileSync(file, value);
    const handle = await open(file, "r");
    try {
      for (const [, start, end] of ranges) {
        assert.deepEqual(await env.decryptRange(handle, start, end, { associatedData: "r" }), plaintext.subarray(start, end));
      }
    } finally {
      await handle.close();
    }
  });

  test("outside the payload → InvalidArgumentError; other associated data → AuthenticationFailedError", async () => {
    for (const [start, end] of [
      [5, 4],
      [0, P + 1],
      [P, P + 1],
      [-1, 2],
    ] as [number, number][]) {
      await assert.rejects(env.decryptRange(counting(), start, end, { associatedData: "r" }), InvalidArgumentError, `[${start}, ${end})`);
    }
    await assert.rejects(env.decryptRange(counting(), 0, 1, { associatedData: "other" }), isStreamAuthFailure);
    // The last flag is checked when a range reaches the last segment: a stream cut at a
    // boundary fails there, while a range before the cut still opens.
    const cut = value.subarray(0, H + 3 * (S + 16));
    const cutSource: RangeSource = { size: cut.length, read: async (p, n) => cut.subarray(p, p + n) };
    await assert.rejects(env.decryptRange(cutSource, 3 * S - 1, 3 * S, { associatedData: "r" }), isStreamAuthFailure);
    assert.deepEqual(await env.decryptRange(cutSource, 0, 10, { associatedData: "r" }), plaintext.subarray(0, 10));
    // A 0x03 value as a range source.
    const envelopeValue = await env.encrypt(Buffer.from("not a stream"));
    const envSource: RangeSource = { size: envelopeValue.length, read: async (p, n) => envelopeValue.subarray(p, p + n) };
    await assert.rejects(env.decryptRange(envSource, 0, 1), InvalidCiphertextError);
  });
});

describe("refusals", () => {
  test("a segment size outside [256, 1048576] → InvalidArgumentError", () => {
    const env = envelope();
    for (const segmentSize of [0, 255, 1_048_577, 1000.5, Number.NaN, -256]) {
      assert.throws(() => env.createEncryptStream({ segmentSize }), InvalidArgumentError, String(segmentSize));
    }
    env.createEncryptStream({ segmentSize: 256 }).destroy();
    env.createEncryptStream({ segmentSize: 1_048_576 }).destroy();
    env.close();
  });

  test("a 0x03 envelope value, another key's stream, garbage → InvalidCiphertextError", async () => {
    const env = envelope();
    const envelopeValue = await env.encrypt(Buffer.from("an envelope value"));
    const { error } = await failure(env, envelopeValue);
    assert.ok(error instanceof InvalidCiphertextError);
    assert.equal(error.message, "not a stream ciphertext: found an envelope ciphertext, expected kind 0x04");
    const other = client.envelope("SESSION_ENCRYPTION", { maxAgeMs: 60_000 });
    const otherValue = await through(other.createEncryptStream(), Buffer.from("other key"));
    await assert.rejects(decryptAll(env, otherValue), /sealed under key "SESSION_ENCRYPTION"/);
    await assert.rejects(decryptAll(env, otherValue), InvalidCiphertextError);
    await assert.rejects(decryptAll(env, Buffer.from("garbage that is not Rekey's")), InvalidCiphertextError);
    await assert.rejects(decryptAll(env, Buffer.alloc(0)), InvalidCiphertextError);
    // The input ends inside the header.
    await assert.rejects(decryptAll(env, otherValue.subarray(0, 40)), InvalidCiphertextError);
    // Envelope.decrypt refuses a stream value as not an envelope ciphertext.
    await assert.rejects(env.decrypt(otherValue), /not an envelope ciphertext: found a stream ciphertext/);
    other.close();
    env.close();
  });

  test("a stream cipher of an unknown key fails with the GenerateDataKey error, as the stream's 'error'", async () => {
    const env = client.envelope("NO_SUCH_KEY", { maxAgeMs: 60_000 });
    await assert.rejects(through(env.createEncryptStream(), Buffer.from("x")), KeyNotFoundError);
    await assert.rejects(through(env.createEncryptStream(), Buffer.alloc(0)), KeyNotFoundError);
    env.close();
  });
});

describe("backpressure", () => {
  test("an encrypt stream nobody reads stops pulling from its source", async () => {
    const env = envelope();
    await env.warm();
    let produced = 0;
    const source = new Readable({
      read() {
        produced += 65_536;
        this.push(Buffer.alloc(65_536, 1));
      },
    });
    const encrypt = env.createEncryptStream();
    source.pipe(encrypt);
    await new Promise((done) => setTimeout(done, 300));
    assert.ok(produced > 0);
    assert.ok(produced <= 1024 * 1024, `${produced} bytes pulled with nobody reading`);
    source.unpipe(encrypt);
    source.destroy();
    encrypt.destroy();
    env.close();
  });
});

describe("data-key caches", () => {
  test("several streams under one data key: one GenerateDataKey; the key is fetched on the first data", async () => {
    const env = envelope();
    const values: Buffer[] = [];
    const calls = await callsDuring(GENERATE, async () => {
      const idle = env.createEncryptStream();
      await new Promise((done) => setTimeout(done, 50));
      assert.equal(env.stats().encryptMisses, 0, "no key before the first data");
      idle.destroy();
      for (let i = 0; i < 3; i++) {
        values.push(await through(env.createEncryptStream({ associatedData: `s${i}` }), Buffer.from(`stream ${i}`)));
      }
      values.push(...(await Promise.all([0, 1, 2].map((i) => through(env.createEncryptStream(), Buffer.alloc(i * 300, i))))));
      values.push(await env.encrypt(Buffer.from("an envelope value under the same key")));
    });
    assert.equal(calls, 1);
    assert.equal(env.stats().encryptMisses, 1);
    assert.equal(env.stats().encryptHits, 6);
    assert.equal(new Set(values.map((v) => v.subarray(9 + KEY.length, H - 20).toString("hex"))).size, 1);
    env.close();
  });

  test("a stream counts as one message of 0 bytes against the policy", async () => {
    const byMessages = client.envelope(KEY, { maxAgeMs: 60_000, maxMessages: 2 });
    const messages = await callsDuring(GENERATE, async () => {
      for (let i = 0; i < 3; i++) {
        await through(byMessages.createEncryptStream(), Buffer.from("m"));
      }
    });
    assert.equal(messages, 2);
    const byBytes = client.envelope(KEY, { maxAgeMs: 60_000, maxBytes: 100 });
    const bytes = await callsDuring(GENERATE, async () => {
      for (let i = 0; i < 3; i++) {
        await through(byBytes.createEncryptStream(), Buffer.alloc(1000));
      }
    });
    assert.equal(bytes, 1);
    byMessages.close();
    byBytes.close();
  });

  test("several reads of streams under one data key: one Decrypt, shared by concurrent readers", async () => {
    const writer = envelope();
    const plaintexts = [0, 1, 2, 3].map((i) => randomBytes(700 + i));
    const values = await Promise.all(plaintexts.map((p) => through(writer.createEncryptStream({ segmentSize: 256 }), p)));
    // The writer opens its own streams without a call.
    assert.equal(await callsDuring(DECRYPT, async () => void (await decryptAll(writer, values[0]!))), 0);
    const reader = envelope();
    const calls = await callsDuring(DECRYPT, async () => {
      const opened = await Promise.all(values.map((v) => decryptAll(reader, v, "", [100])));
      assert.deepEqual(opened, plaintexts);
      for (const [i, v] of values.entries()) {
        const source: RangeSource = { size: v.length, read: async (p, n) => v.subarray(p, p + n) };
        assert.deepEqual(await reader.decryptRange(source, 250, 300), plaintexts[i]!.subarray(250, 300));
      }
      assert.deepEqual(await decryptAll(reader, values[3]!), plaintexts[3]);
    });
    assert.equal(calls, 1);
    assert.equal(reader.stats().decryptMisses, 1);
    assert.equal(reader.stats().decryptHits, 8);
    writer.close();
    reader.close();
  });

  test("the stream interoperates with the in-memory sealer under the server's data key", async () => {
    // A value sealed offline with a data key from GenerateDataKey opens through the Envelope.
    const response = await client.generateDataKey({ keyName: KEY, associatedData: DATA_KEY_AAD });
    const key = new DataKey(KEY, response.keyVersion, response.plaintextKey, response.wrappedKey);
    const plaintext = randomBytes(1000);
    const value = sealStreamWith(key, randomBytes(16), 300, plaintext, Buffer.from("x"));
    key.wipe();
    const env = envelope();
    assert.deepEqual(await decryptAll(env, value, "x", [7]), plaintext);
    env.close();
  });
});
