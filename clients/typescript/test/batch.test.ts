// The batch rpcs against a real `rekey serve` (batch-contract.md, issue #15): per-item typed
// errors in input order beside the items that succeed, splitting into calls within the item and
// byte limits (counted on the server's /metrics), local TooLargeError for an item above the
// byte limit, and the server's own whole-call limits reached by a client configured above them.
// The retired-version item is in retired.test.ts (it needs a server that retires quickly).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailedError,
  Client,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  PermissionDeniedError,
  proto,
  RekeyError,
  TooLargeError,
  UnauthenticatedError,
} from "../src/index.js";

import { KEY, type Server, startServer } from "./harness.js";

const OTHER_KEY = "SESSION_ENCRYPTION";

let server: Server;
let client: Client;

before(async () => {
  server = await startServer();
  client = server.client();
});
after(async () => {
  await server.stop();
});

/** The value or throws the item's error (for items expected to succeed). */
function ok<R>(result: R | RekeyError): R {
  if (result instanceof RekeyError) {
    throw result;
  }
  return result;
}

/** Asserts an item failed with `cls`; returns its error. */
function failed(result: unknown, cls: new (...args: never[]) => RekeyError, what: string): RekeyError {
  assert.ok(result instanceof cls, `${what}: ${result instanceof RekeyError ? `${result.name}: ${result.message}` : "succeeded"}`);
  return result;
}

/** How many calls of `rpc` (e.g. "EncryptBatch") the server counted while `run` ran. */
async function counting<T>(rpc: string, run: () => Promise<T>): Promise<{ result: T; calls: number }> {
  const before = await server.rpcCount(`KeyService/${rpc}`);
  const result = await run();
  return { result, calls: (await server.rpcCount(`KeyService/${rpc}`)) - before };
}

/** The ciphertext with its key version (offset 5 + N, u32 big-endian) replaced. */
function withVersion(ciphertext: Uint8Array, version: number): Buffer {
  const copy = Buffer.from(ciphertext);
  copy.writeUInt32BE(version, 5 + copy[4]!);
  return copy;
}

describe("per-item errors in input order", () => {
  test("decryptMany: valid, tampered, unknown version, garbage, other associated data — each its own result", async () => {
    const ad = Buffer.from("row 1");
    const a = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("first"), associatedData: ad });
    const b = await client.encrypt({ keyName: OTHER_KEY, plaintext: Buffer.from("second") });
    const tampered = Buffer.from(a.ciphertext);
    tampered[tampered.length - 1]! ^= 0x01;
    const { result, calls } = await counting("DecryptBatch", () =>
      client.decryptMany([
        { ciphertext: a.ciphertext, associatedData: ad },
        { ciphertext: tampered, associatedData: ad },
        { ciphertext: withVersion(a.ciphertext, 999) },
        { ciphertext: Buffer.from("not a rekey value") },
        { ciphertext: a.ciphertext, associatedData: Buffer.from("row 2") },
        { ciphertext: b.ciphertext },
      ]),
    );
    assert.equal(calls, 1);
    assert.equal(result.length, 6);
    assert.equal(Buffer.from(ok(result[0]!).plaintext).toString(), "first");
    failed(result[1], AuthenticationFailedError, "tampered");
    const unknown = failed(result[2], KeyNotFoundError, "unknown version");
    assert.equal(unknown.code, "NOT_FOUND");
    failed(result[3], InvalidCiphertextError, "garbage");
    const wrongAd = failed(result[4], AuthenticationFailedError, "other associated data");
    assert.ok(!wrongAd.message.includes("first"));
    const last = ok(result[5]!);
    assert.equal(Buffer.from(last.plaintext).toString(), "second");
    assert.equal(last.keyName, OTHER_KEY);
  });

  test("encryptMany and rewrapMany: unknown key, malformed name, out-of-scope key beside items that succeed", async () => {
    const scoped = await client.createToken({ name: "batch-sessions-only", role: proto.TokenRole.CLIENT, keyNames: [OTHER_KEY] });
    const limited = server.client({ token: scoped.token });
    // The admin token may use every key: an unknown key and a malformed name are the items' own errors.
    const mixed = await client.encryptMany([
      { keyName: KEY, plaintext: Buffer.from("a") },
      { keyName: "NO_SUCH_KEY", plaintext: Buffer.from("x") },
      { keyName: "bad name!", plaintext: Buffer.from("x") },
      { keyName: OTHER_KEY, plaintext: Buffer.from("b") },
    ]);
    assert.equal(mixed.length, 4);
    assert.equal(ok(mixed[0]!).keyVersion >= 1, true);
    failed(mixed[1], KeyNotFoundError, "unknown key");
    failed(mixed[2], InvalidArgumentError, "malformed key name");
    ok(mixed[3]!);

    // A scoped token: a key outside its scope is that item's PermissionDeniedError.
    const encrypted = await limited.encryptMany([
      { keyName: OTHER_KEY, plaintext: Buffer.from("mine") },
      { keyName: KEY, plaintext: Buffer.from("not mine") },
      { keyName: OTHER_KEY, plaintext: Buffer.from("mine too"), associatedData: Buffer.from("ad") },
    ]);
    assert.equal(encrypted.length, 3);
    const mine = ok(encrypted[0]!);
    failed(encrypted[1], PermissionDeniedError, "out of scope");
    const mineToo = ok(encrypted[2]!);

    const foreign = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("theirs") });
    const rewrapped = await limited.rewrapMany([
      { ciphertext: foreign.ciphertext },
      { ciphertext: mine.ciphertext },
      { ciphertext: Buffer.from("garbage") },
      { ciphertext: mineToo.ciphertext, associatedData: Buffer.from("ad") },
    ]);
    failed(rewrapped[0], PermissionDeniedError, "rewrap out of scope");
    const rewrappedMine = ok(rewrapped[1]!);
    failed(rewrapped[2], InvalidCiphertextError, "rewrap garbage");
    ok(rewrapped[3]!);

    const decrypted = await limited.decryptMany([{ ciphertext: rewrappedMine.ciphertext }, { ciphertext: foreign.ciphertext }]);
    assert.equal(Buffer.from(ok(decrypted[0]!).plaintext).toString(), "mine");
    failed(decrypted[1], PermissionDeniedError, "decrypt out of scope");
  });

  test("the error of a whole call rejects: a wrong token gives UnauthenticatedError, no list", async () => {
    const wrong = server.client({ token: "not-the-token-not-the-token-not-the-token" });
    await assert.rejects(wrong.encryptMany([{ keyName: KEY, plaintext: Buffer.from("x") }]), UnauthenticatedError);
    await assert.rejects(wrong.decryptMany([{ ciphertext: Buffer.from("x") }]), UnauthenticatedError);
  });
});

describe("splitting", () => {
  test("encryptMany of 25,000 items makes 3 EncryptBatch calls; decryptMany gives every plaintext back in order", async () => {
    const items = Array.from({ length: 25_000 }, (_, i) => ({
      keyName: KEY,
      plaintext: Buffer.from(`value ${i}`),
      associatedData: Buffer.from(`row ${i}`),
    }));
    const sealed = await counting("EncryptBatch", () => client.encryptMany(items));
    assert.equal(sealed.calls, 3);
    assert.equal(sealed.result.length, 25_000);
    const ciphertexts = sealed.result.map((r, i) => ({ ciphertext: ok(r).ciphertext, associatedData: Buffer.from(`row ${i}`) }));
    const opened = await counting("DecryptBatch", () => client.decryptMany(ciphertexts));
    assert.equal(opened.calls, 3);
    assert.equal(opened.result.length, 25_000);
    opened.result.forEach((r, i) => {
      assert.equal(Buffer.from(ok<proto.DecryptResponse>(r).plaintext).toString(), `value ${i}`);
    });
  });

  test("batchMaxItems 7: 20 items in 3 calls, results in order", async () => {
    const small = server.client({ batchMaxItems: 7 });
    const items = Array.from({ length: 20 }, (_, i) => ({ keyName: KEY, plaintext: Buffer.from(`n${i}`) }));
    const sealed = await counting("EncryptBatch", () => small.encryptMany(items));
    assert.equal(sealed.calls, 3);
    const rewrapped = await counting("RewrapBatch", () => small.rewrapMany(sealed.result.map((r) => ({ ciphertext: ok(r).ciphertext }))));
    assert.equal(rewrapped.calls, 3);
    const opened = await small.decryptMany(rewrapped.result.map((r) => ({ ciphertext: ok(r).ciphertext })));
    assert.deepEqual(
      opened.map((r) => Buffer.from(ok(r).plaintext).toString()),
      items.map((item) => item.plaintext.toString()),
    );
  });

  test("batchMaxBytes counts plaintext + associated data; an item above it alone gets TooLargeError locally, the others proceed", async () => {
    const small = server.client({ batchMaxBytes: 1_000 });
    const sealed = await counting("EncryptBatch", () =>
      small.encryptMany([
        { keyName: KEY, plaintext: Buffer.alloc(400, 1), associatedData: Buffer.alloc(100) },
        { keyName: KEY, plaintext: Buffer.alloc(1_001, 2) },
        { keyName: KEY, plaintext: Buffer.alloc(400, 3), associatedData: Buffer.alloc(100) },
        { keyName: KEY, plaintext: Buffer.alloc(1, 4) },
      ]),
    );
    // 500 + 500 fill the first call; the fourth item needs a second; the second item is never sent.
    assert.equal(sealed.calls, 2);
    const tooLarge = failed(sealed.result[1], TooLargeError, "oversized item");
    assert.equal(tooLarge.message, "item 1 is 1001 bytes, above the batch limit of 1000 bytes");
    for (const index of [0, 2, 3]) {
      assert.ok(ok<proto.EncryptResponse>(sealed.result[index]!).ciphertext.length > 0);
    }
    // Decrypt counts ciphertext bytes: a 1,000-byte plaintext's ciphertext is above 1,000.
    const big = await client.encrypt({ keyName: KEY, plaintext: Buffer.alloc(990) });
    const opened = await counting("DecryptBatch", () =>
      small.decryptMany([{ ciphertext: big.ciphertext }, { ciphertext: ok(sealed.result[3]!).ciphertext }]),
    );
    assert.equal(opened.calls, 1);
    const local = failed(opened.result[0], TooLargeError, "oversized ciphertext");
    assert.match(local.message, /^item 0 is \d+ bytes, above the batch limit of 1000 bytes$/);
    assert.deepEqual(Buffer.from(ok(opened.result[1]!).plaintext), Buffer.alloc(1, 4));
  });
});

describe("the server's whole-call limits", () => {
  test("a raw EncryptBatch of 10,001 items fails whole with TooLargeError (RESOURCE_EXHAUSTED)", async () => {
    const items = Array.from({ length: 10_001 }, () => ({ keyName: KEY, plaintext: Buffer.from("x") }));
    await assert.rejects(client.encryptBatch({ items }), (e: unknown) => {
      assert.ok(e instanceof TooLargeError, String(e));
      assert.equal(e.code, "RESOURCE_EXHAUSTED");
      return true;
    });
    // A client configured above the server's limit reaches it through encryptMany too.
    const above = server.client({ batchMaxItems: 20_000 });
    await assert.rejects(above.encryptMany(items), TooLargeError);
  });

  test("more bytes than the server's 16 MiB in one call fail whole with TooLargeError", async () => {
    const above = server.client({ batchMaxBytes: 64 * 1024 * 1024 });
    const items = Array.from({ length: 17 }, () => ({ keyName: KEY, plaintext: Buffer.alloc(1_000_000) }));
    await assert.rejects(above.encryptMany(items), TooLargeError);
    // At the default limit the same items are split and succeed.
    const sealed = await counting("EncryptBatch", () => client.encryptMany(items));
    assert.equal(sealed.calls, 2);
    assert.ok(sealed.result.every((r) => !(r instanceof RekeyError)));
  });

  test("a batch of no items is INVALID_ARGUMENT", async () => {
    await assert.rejects(client.encryptBatch({ items: [] }), InvalidArgumentError);
    await assert.rejects(client.decryptBatch({ items: [] }), InvalidArgumentError);
    await assert.rejects(client.rewrapBatch({ items: [] }), InvalidArgumentError);
  });
});
