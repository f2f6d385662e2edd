// The streaming rpcs KeyService.EncryptStream and DecryptStream through Client.encryptStream and
// Client.decryptStream against a real `rekey serve`: the server's stream ciphertexts are the
// local Envelope's (each opens the other's), errors are thrown while iterating as the client's
// classes (tampering, unknown key, bad segment size), a multi-megabyte stream in small chunks
// round-trips server to server, and a streaming call is never retried.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailedError,
  Client,
  DeadlineExceededError,
  type Envelope,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  parseStreamHeader,
  RekeyError,
  streamHeaderLen,
  UnavailableError,
} from "../src/index.js";
import { streamCiphertextLen } from "../src/envelope/stream.js";

import { closedPort, KEY, type Server, startServer } from "./harness.js";
import { through } from "./stream-helpers.js";

let server: Server;
let client: Client;
let env: Envelope;

before(async () => {
  server = await startServer();
  client = server.client();
  env = client.envelope(KEY, { maxAgeMs: 60_000 });
});
after(async () => {
  env.close();
  await server.stop();
});

const H = streamHeaderLen(KEY.length);

/** `data` cut into chunks of the given sizes (cycled). */
function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Everything an iterable yields, concatenated. */
async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of stream) {
    out.push(Buffer.from(chunk));
  }
  return Buffer.concat(out);
}

/** The error iterating `stream` throws (fails the test if it ends), and what it yielded before. */
async function failure(stream: AsyncIterable<Uint8Array>): Promise<{ error: RekeyError; yielded: Buffer }> {
  const out: Buffer[] = [];
  try {
    for await (const chunk of stream) {
      out.push(Buffer.from(chunk));
    }
  } catch (e) {
    assert.ok(e instanceof RekeyError, `not a RekeyError: ${String(e)}`);
    return { error: e, yielded: Buffer.concat(out) };
  }
  assert.fail("the stream ended without an error");
}

describe("the server's streams are the client's", () => {
  test("a server-made stream opens with the local createDecryptStream: empty, 1 byte, S, S + 1, several segments, one 3 MiB chunk", async () => {
    const cases: [string, number, number | undefined, number[]][] = [
      ["empty", 0, 256, [1]],
      ["1 byte", 1, 256, [1]],
      ["exactly S", 256, 256, [100]],
      ["S + 1", 257, 256, [256, 1]],
      ["several segments", 5 * 256 + 77, 256, [1, 7, 300]],
      ["default S", 3 * 65_536 + 5, undefined, [10_000]],
      ["one chunk above the request cut", 3 * 1024 * 1024 + 3, 1_048_576, [3 * 1024 * 1024 + 3]],
    ];
    for (const [name, len, segmentSize, sizes] of cases) {
      const plaintext = randomBytes(len);
      const ad = `object ${len}`;
      const sealed = await collect(client.encryptStream(KEY, chunked(plaintext, sizes), { associatedData: ad, segmentSize }));
      const S = segmentSize ?? 65_536;
      assert.equal(sealed.length, streamCiphertextLen(H, len, S), name);
      const header = parseStreamHeader(sealed);
      assert.equal(header.keyName, KEY, name);
      assert.equal(header.segmentSize, S, name);
      assert.deepEqual(await through(env.createDecryptStream({ associatedData: Buffer.from(ad) }), sealed, [1000]), plaintext, name);
      // And through the server again, from a Node Readable.
      assert.deepEqual(await collect(client.decryptStream(Readable.from(chunked(sealed, [4096])), { associatedData: ad })), plaintext, name);
    }
  });

  test("a locally made stream opens through decryptStream, in chunks of any size", async () => {
    for (const [len, segmentSize] of [[0, 256], [1, 256], [2 * 256, 256], [70_000, undefined]] as const) {
      const plaintext = randomBytes(len);
      const sealed = await through(env.createEncryptStream({ associatedData: "local", segmentSize }), plaintext);
      // One message per byte only for the small ones: each message is a frame to the server.
      const cuts = len <= 1024 ? [[sealed.length || 1], [1], [17, 300, 5]] : [[sealed.length], [17, 300, 5]];
      for (const sizes of cuts) {
        const opened = await collect(client.decryptStream(chunked(sealed, sizes), { associatedData: Buffer.from("local") }));
        assert.deepEqual(opened, plaintext, `${len} bytes in chunks of ${sizes.join(",")}`);
      }
    }
  });

  test("each server-made stream has its own salt and data key; associated data is bound", async () => {
    const plaintext = Buffer.from("the same bytes twice");
    const a = await collect(client.encryptStream(KEY, [plaintext], { associatedData: "ad" }));
    const b = await collect(client.encryptStream(KEY, [plaintext], { associatedData: "ad" }));
    assert.notDeepEqual(a, b);
    const wrongAd = await failure(client.decryptStream([a], { associatedData: "other" }));
    assert.ok(wrongAd.error instanceof AuthenticationFailedError, wrongAd.error.name);
    assert.equal(wrongAd.yielded.length, 0);
    assert.ok(!wrongAd.error.message.includes("the same bytes"));
  });
});

describe("errors are thrown while iterating, as the client's classes", () => {
  test("a dropped last segment → AuthenticationFailedError at the end, after the segments before it", async () => {
    const plaintext = randomBytes(1000); // segments of 256, 256, 256, 232
    const sealed = await collect(client.encryptStream(KEY, [plaintext], { segmentSize: 256 }));
    const truncated = sealed.subarray(0, sealed.length - (232 + 16));
    const { error, yielded } = await failure(client.decryptStream(chunked(truncated, [100])));
    assert.ok(error instanceof AuthenticationFailedError, `${error.name}: ${error.message}`);
    // Segments 0 and 1 were authenticated and released before the truncation showed.
    assert.deepEqual(yielded, plaintext.subarray(0, 512));
    // A flipped byte in a segment, and an appended copy of the last segment, fail too.
    const flipped = Buffer.from(sealed);
    flipped[H + 300]! ^= 0x01;
    const f = await failure(client.decryptStream([flipped]));
    assert.ok(f.error instanceof AuthenticationFailedError, f.error.name);
    const extended = Buffer.concat([sealed, sealed.subarray(sealed.length - 248)]);
    const e = await failure(client.decryptStream([extended]));
    assert.ok(e.error instanceof AuthenticationFailedError, e.error.name);
  });

  test("not a stream ciphertext → InvalidCiphertextError", async () => {
    const garbage = await failure(client.decryptStream([Buffer.from("not a rekey stream at all")]));
    assert.ok(garbage.error instanceof InvalidCiphertextError, `${garbage.error.name}: ${garbage.error.message}`);
    const envelopeValue = await env.encrypt(Buffer.from("x"));
    const wrongKind = await failure(client.decryptStream([envelopeValue]));
    assert.ok(wrongKind.error instanceof InvalidCiphertextError, wrongKind.error.name);
  });

  test("an unknown key → KeyNotFoundError", async () => {
    const { error } = await failure(client.encryptStream("NO_SUCH_KEY", [Buffer.from("x")]));
    assert.ok(error instanceof KeyNotFoundError, `${error.name}: ${error.message}`);
    assert.equal(error.code, "NOT_FOUND");
    assert.match(error.message, /NO_SUCH_KEY/);
  });

  test("segmentSize 100 → InvalidArgumentError from the server; a non-integer from the client", async () => {
    const { error, yielded } = await failure(client.encryptStream(KEY, [Buffer.from("x")], { segmentSize: 100 }));
    assert.ok(error instanceof InvalidArgumentError, `${error.name}: ${error.message}`);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(yielded.length, 0);
    const local = await failure(client.encryptStream(KEY, [Buffer.from("x")], { segmentSize: 1.5 }));
    assert.ok(local.error instanceof InvalidArgumentError, local.error.name);
    assert.equal(local.error.code, "CLIENT");
  });

  test("an error thrown by the caller's input is rethrown unchanged", async () => {
    const mine = new Error("the source broke");
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(1000, 1);
      throw mine;
    }
    await assert.rejects(collect(client.encryptStream(KEY, broken(), { segmentSize: 256 })), (e) => e === mine);
    await assert.rejects(collect(client.decryptStream(broken())), (e) => e === mine);
  });
});

describe("long streams", () => {
  test("8 MiB in many small chunks round-trips through encryptStream piped into decryptStream", async () => {
    const total = 8 * 1024 * 1024;
    const chunkSizes = [4093, 1, 16_384, 777];
    let produced = 0;
    const sent = createHash("sha256");
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; produced < total; i++) {
        const chunk = randomBytes(Math.min(chunkSizes[i % chunkSizes.length]!, total - produced));
        produced += chunk.length;
        sent.update(chunk);
        yield chunk;
      }
    }
    const received = createHash("sha256");
    let length = 0;
    for await (const chunk of client.decryptStream(client.encryptStream(KEY, source(), { associatedData: "long" }), { associatedData: "long" })) {
      received.update(chunk);
      length += chunk.length;
    }
    assert.equal(length, total);
    assert.equal(received.digest("hex"), sent.digest("hex"));
  });

  test("leaving the loop early cancels the call; the client keeps working", async () => {
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        yield Buffer.alloc(65_536);
      }
    }
    let seen = 0;
    for await (const chunk of client.encryptStream(KEY, endless())) {
      seen += chunk.length;
      if (seen > 1024 * 1024) {
        break;
      }
    }
    assert.ok(seen > 1024 * 1024);
    const plaintext = Buffer.from("still fine");
    const sealed = await collect(client.encryptStream(KEY, [plaintext]));
    assert.deepEqual(await collect(client.decryptStream([sealed])), plaintext);
  });
});

describe("deadlines", () => {
  test("only a per-call deadline bounds a stream: DeadlineExceededError while iterating", async () => {
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("first");
      await sleep(1_500);
    }
    const started = performance.now();
    const { error } = await failure(client.encryptStream(KEY, stalled(), {}, { deadlineMs: 300 }));
    assert.ok(error instanceof DeadlineExceededError, `${error.name}: ${error.message}`);
    assert.ok(performance.now() - started < 1_400, "the deadline did not cut the call");
    // The client's own default deadline (here 200 ms) does not apply to streams.
    const patient = server.client({ deadlineMs: 200, attemptTimeoutMs: 200 });
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("a");
      await sleep(400);
      yield Buffer.from("b");
    }
    const sealed = await collect(patient.encryptStream(KEY, slow()));
    assert.deepEqual(await collect(patient.decryptStream([sealed])), Buffer.from("ab"));
  });
});

describe("never retried", () => {
  test("a streaming call is tried once (UnavailableError while iterating), and nothing is sent before the iteration", async () => {
    const attempts: string[] = [];
    const down = new Client({
      addr: `127.0.0.1:${await closedPort()}`,
      token: "t".repeat(40),
      retry: { maxAttempts: 4, initialBackoffMs: 10, maxBackoffMs: 20 },
      observer: { onAttempt: (rpc, attempt, error) => attempts.push(`${rpc}#${attempt}:${error?.name ?? "ok"}`) },
    });
    const encrypting = down.encryptStream(KEY, [Buffer.from("x")]);
    const decrypting = down.decryptStream([Buffer.from("x")]);
    assert.deepEqual(attempts, []);
    const e = await failure(encrypting);
    assert.ok(e.error instanceof UnavailableError, e.error.name);
    const d = await failure(decrypting);
    assert.ok(d.error instanceof UnavailableError, d.error.name);
    assert.deepEqual(attempts, ["EncryptStream#1:UnavailableError", "DecryptStream#1:UnavailableError"]);
    down.close();
  });

  test("one call per stream reaches the server", async () => {
    const rpc = "KeyService/EncryptStream";
    const before = await server.rpcCount(rpc);
    await collect(client.encryptStream(KEY, [Buffer.from("once")]));
    assert.equal((await server.rpcCount(rpc)) - before, 1);
  });
});
