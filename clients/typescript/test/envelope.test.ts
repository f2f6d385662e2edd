// The Envelope against a real `rekey serve`, counting the server's GenerateDataKey and Decrypt
// calls from its /metrics: the cache policy (one data key for 10,000 encryptions, rollover by
// messages, bytes and age), the single flight of concurrent cold encryptions and decryptions,
// the decrypt cache, values rewrapped by the server, refusals, and redaction.

import assert from "node:assert/strict";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { inspect } from "node:util";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailedError,
  Client,
  DATA_KEY_AAD,
  DataKey,
  InvalidCiphertextError,
  KeyNotFoundError,
  parseEnvelope,
  RekeyError,
} from "../src/index.js";
import { DecryptCache } from "../src/envelope/decrypt-cache.js";

import { KEY, type Server, startServer } from "./harness.js";

let server: Server;
let client: Client;

before(async () => {
  server = await startServer();
  client = server.client();
});
after(async () => {
  await server.stop();
});

/** How many calls of `rpc` the server counted while `body` ran. */
async function callsDuring(rpc: string, body: () => Promise<void>): Promise<number> {
  const before = await server.rpcCount(rpc);
  await body();
  return (await server.rpcCount(rpc)) - before;
}
const GENERATE = "KeyService/GenerateDataKey";
const DECRYPT = "KeyService/Decrypt";

describe("encrypt-side cache", () => {
  test("10,000 encryptions within maxAge make exactly one GenerateDataKey call", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60 * 60 * 1000 });
    const values: Buffer[] = [];
    const calls = await callsDuring(GENERATE, async () => {
      for (let i = 0; i < 10_000; i++) {
        values.push(await envelope.encrypt(Buffer.from(`value ${i}`), Buffer.from(`row=${i}`)));
      }
    });
    assert.equal(calls, 1);
    assert.deepEqual(envelope.stats(), { encryptHits: 9_999, encryptMisses: 1, decryptHits: 0, decryptMisses: 0, evictions: 0 });
    // Every value has its own salt and nonce, and opens to its own plaintext.
    assert.equal(new Set(values.map((v) => parseEnvelope(v).salt.toString("hex"))).size, 10_000);
    assert.equal((await envelope.decrypt(values[1234]!, Buffer.from("row=1234"))).toString(), "value 1234");
    envelope.close();
  });

  test("64 concurrent cold encryptions make one GenerateDataKey call", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
    let values: Buffer[] = [];
    const calls = await callsDuring(GENERATE, async () => {
      values = await Promise.all(Array.from({ length: 64 }, (_, i) => envelope.encrypt(Buffer.from(`c${i}`), Buffer.from(`${i}`))));
    });
    assert.equal(calls, 1);
    assert.equal(envelope.stats().encryptMisses, 1);
    assert.equal(envelope.stats().encryptHits, 63);
    assert.equal(new Set(values.map((v) => parseEnvelope(v).wrappedKey.toString("hex"))).size, 1);
    assert.equal((await envelope.decrypt(values[63]!, Buffer.from("63"))).toString(), "c63");
    envelope.close();
  });

  test("maxMessages rolls the data key over", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000, maxMessages: 3 });
    const values: Buffer[] = [];
    const calls = await callsDuring(GENERATE, async () => {
      for (let i = 0; i < 7; i++) {
        values.push(await envelope.encrypt(Buffer.from("m")));
      }
    });
    assert.equal(calls, 3);
    const keys = values.map((v) => parseEnvelope(v).wrappedKey.toString("hex"));
    assert.equal(new Set(keys.slice(0, 3)).size, 1);
    assert.notEqual(keys[2], keys[3]);
    assert.notEqual(keys[5], keys[6]);
    envelope.close();
  });

  test("maxBytes rolls the data key over; a single larger message still gets a key", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000, maxBytes: 100 });
    const calls = await callsDuring(GENERATE, async () => {
      for (let i = 0; i < 6; i++) {
        await envelope.encrypt(Buffer.alloc(40, 1)); // two 40-byte messages fit in 100 bytes, three do not
      }
      await envelope.encrypt(Buffer.alloc(500, 2)); // larger than maxBytes: a key of its own
    });
    assert.equal(calls, 4);
    envelope.close();
  });

  test("maxAge rolls the data key over, and warm() fetches ahead of the first encryption", async () => {
    // Wide enough that a loaded machine does not age the key before "a" and "b".
    const envelope = client.envelope(KEY, { maxAgeMs: 1_500 });
    const warmCalls = await callsDuring(GENERATE, () => envelope.warm());
    assert.equal(warmCalls, 1);
    const calls = await callsDuring(GENERATE, async () => {
      await envelope.encrypt(Buffer.from("a"));
      await envelope.encrypt(Buffer.from("b"));
      await new Promise((done) => setTimeout(done, 1_600));
      await envelope.encrypt(Buffer.from("c"));
    });
    assert.equal(calls, 1);
    assert.equal(envelope.stats().encryptMisses, 2);
    envelope.close();
  });
});

describe("decrypt-side cache", () => {
  test("a cache hit makes no Decrypt call; a cold one makes one, shared by 64 concurrent decryptions", async () => {
    const writer = client.envelope(KEY, { maxAgeMs: 60_000 });
    const values = await Promise.all(Array.from({ length: 64 }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), Buffer.from(`r${i}`))));
    // The writer opens its own values from the key it fetched: no Decrypt at all.
    assert.equal(await callsDuring(DECRYPT, async () => void (await writer.decrypt(values[0]!, Buffer.from("r0")))), 0);
    const reader = client.envelope(KEY, { maxAgeMs: 60_000 });
    let opened: Buffer[] = [];
    const cold = await callsDuring(DECRYPT, async () => {
      opened = await Promise.all(values.map((v, i) => reader.decrypt(v, Buffer.from(`r${i}`))));
    });
    assert.equal(cold, 1);
    assert.deepEqual(opened.map(String), values.map((_, i) => `v${i}`));
    const warm = await callsDuring(DECRYPT, async () => {
      for (let i = 0; i < 64; i++) {
        await reader.decrypt(values[i]!, Buffer.from(`r${i}`));
      }
    });
    assert.equal(warm, 0);
    assert.equal(reader.stats().decryptMisses, 1);
    assert.equal(reader.stats().decryptHits, 127);
    writer.close();
    reader.close();
  });

  test("decryptEntries 0 keeps nothing: every decryption unwraps again", async () => {
    const writer = client.envelope(KEY, { maxAgeMs: 60_000 });
    const value = await writer.encrypt(Buffer.from("x"));
    const reader = client.envelope(KEY, { maxAgeMs: 60_000, decryptEntries: 0 });
    const calls = await callsDuring(DECRYPT, async () => {
      await reader.decrypt(value);
      await reader.decrypt(value);
    });
    assert.equal(calls, 2);
    writer.close();
    reader.close();
  });

  test("evicted and expired data keys are wiped", () => {
    const dk = Buffer.alloc(32, 7);
    const wrapped = (v: number): Buffer => {
      const w = Buffer.alloc(21 + 1 + 32 + 16, 0xab);
      w.set([0x52, 0x4b, 0x01, 0x01, 0x01, 0x6b, 0, 0, 0, v], 0);
      return w;
    };
    const cache = new DecryptCache(1, 60_000);
    const first = new DataKey("k", 1, dk, wrapped(1));
    const second = new DataKey("k", 2, dk, wrapped(2));
    cache.insert("1", first);
    assert.equal(first.wiped, false);
    assert.equal(cache.insert("2", second), 1);
    assert.equal(first.wiped, true, "the least recently used key was wiped on eviction");
    assert.equal(second.wiped, false);
    const expiring = new DecryptCache(10, 0);
    const third = new DataKey("k", 3, dk, wrapped(3));
    expiring.insert("3", third);
    assert.equal(expiring.get("3").expired, 1);
    assert.equal(third.wiped, true, "an expired key was wiped");
  });
});

describe("values and refusals", () => {
  test("tampered values and different associated data → AuthenticationFailedError", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
    const value = await envelope.encrypt(Buffer.from("the secret"), Buffer.from("row=1"));
    for (const at of [value.length - 1, value.length - 20, parseEnvelope(value).boundPrefix.length + 9 + 80]) {
      const tampered = Buffer.from(value);
      tampered[at]! ^= 0x01;
      await assert.rejects(envelope.decrypt(tampered, Buffer.from("row=1")), AuthenticationFailedError, `byte ${at}`);
    }
    await assert.rejects(envelope.decrypt(value, Buffer.from("row=2")), (e: unknown) => {
      assert.ok(e instanceof AuthenticationFailedError);
      assert.ok(!e.message.includes("the secret"));
      return true;
    });
    // A fresh envelope must unwrap a tampered wrapped key through the server: the server refuses it.
    const fresh = client.envelope(KEY, { maxAgeMs: 60_000 });
    const badWrap = Buffer.from(value);
    badWrap[9 + KEY.length + 30]! ^= 0x01;
    await assert.rejects(fresh.decrypt(badWrap, Buffer.from("row=1")), AuthenticationFailedError);
    envelope.close();
    fresh.close();
  });

  test("garbage, another key's value and a plain ciphertext → InvalidCiphertextError", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
    await assert.rejects(envelope.decrypt(Buffer.from("garbage")), InvalidCiphertextError);
    await assert.rejects(envelope.decrypt(Buffer.alloc(0)), InvalidCiphertextError);
    const other = client.envelope("SESSION_ENCRYPTION", { maxAgeMs: 60_000 });
    const value = await other.encrypt(Buffer.from("s"));
    await assert.rejects(envelope.decrypt(value), /sealed under key "SESSION_ENCRYPTION"/);
    await assert.rejects(envelope.decrypt(value), InvalidCiphertextError);
    const plain = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("p") });
    await assert.rejects(envelope.decrypt(plain.ciphertext), InvalidCiphertextError);
    await assert.rejects(envelope.decrypt(value.subarray(0, value.length - 30)), InvalidCiphertextError);
    envelope.close();
    other.close();
  });

  test("an unknown key → KeyNotFoundError, shared by every waiting encryption", async () => {
    const envelope = client.envelope("NO_SUCH_KEY", { maxAgeMs: 60_000 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => envelope.encrypt(Buffer.from("x"))));
    assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof KeyNotFoundError));
    assert.throws(() => client.envelope("bad name!", { maxAgeMs: 1 }), /invalid key name/);
  });

  test("inspect and JSON never show data keys or plaintext", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
    const plaintext = "PLAINTEXT-MUST-NOT-LEAK";
    const value = await envelope.encrypt(plaintext, "row=9");
    assert.equal((await envelope.decrypt(value, "row=9")).toString(), plaintext);
    // The data key itself, unwrapped through the server, to look for it.
    const dk = Buffer.from((await client.decrypt({ ciphertext: parseEnvelope(value).wrappedKey, associatedData: DATA_KEY_AAD })).plaintext);
    assert.equal(dk.length, 32);
    const shown = [
      inspect(envelope, { showHidden: true, depth: 20 }),
      inspect(client, { showHidden: true, depth: 20 }),
      JSON.stringify(envelope),
      JSON.stringify(client),
      String(envelope),
    ].join("\n");
    for (const secret of [plaintext, dk.toString("hex"), dk.toString("base64"), server.adminToken, [...dk].join(",")]) {
      assert.ok(!shown.includes(secret), `leaked ${secret.slice(0, 6)}…`);
    }
    assert.match(shown, /<redacted>/);
    envelope.close();
  });

  test("a value rewrapped by the server (after a rotation) still decrypts", async () => {
    const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
    const value = await envelope.encrypt(Buffer.from("survives rotation"), Buffer.from("row=r"));
    const before = parseEnvelope(value).keyVersion;
    await client.rotate({ keyName: KEY, force: true });
    const rewrapped = Buffer.from((await client.rewrap({ ciphertext: value })).ciphertext);
    const parsed = parseEnvelope(rewrapped);
    assert.equal(parsed.keyVersion, before + 1);
    assert.notDeepEqual(parsed.wrappedKey, parseEnvelope(value).wrappedKey);
    // Salt, nonce, payload and tag are unchanged: only the header's version and the wrapped key moved.
    assert.deepEqual(rewrapped.subarray(rewrapped.length - 50), value.subarray(value.length - 50));
    const reader = client.envelope(KEY, { maxAgeMs: 60_000 });
    assert.equal((await reader.decrypt(rewrapped, Buffer.from("row=r"))).toString(), "survives rotation");
    assert.equal((await reader.decrypt(value, Buffer.from("row=r"))).toString(), "survives rotation");
    // And the server opens an envelope value by itself too.
    const served = await client.decrypt({ ciphertext: rewrapped, associatedData: Buffer.from("row=r") });
    assert.equal(Buffer.from(served.plaintext).toString(), "survives rotation");
    envelope.close();
    reader.close();
  });
});

describe("failures", () => {
  test("callers waiting behind one failed call share its error; the next call tries again", async () => {
    // A peer that accepts connections and never answers: the failing GenerateDataKey (and
    // Decrypt) last their whole attempt timeout, so every caller is surely waiting behind them.
    const sealed = await client.envelope(KEY, { maxAgeMs: 60_000 }).encrypt(Buffer.from("made while up"), Buffer.from("row=1"));
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const port = (silent.address() as AddressInfo).port;
    const attempts: string[] = [];
    const down = new Client({
      addr: `http://127.0.0.1:${port}`,
      token: "t",
      attemptTimeoutMs: 400,
      retry: { maxAttempts: 1 },
      observer: { onAttempt: (rpc) => attempts.push(rpc) },
    });
    try {
      const envelope = down.envelope(KEY, { maxAgeMs: 60_000 });
      const calls = Array.from({ length: 32 }, (_, i) =>
        i % 2 === 0 ? envelope.encrypt(Buffer.from("pt"), Buffer.from("ad")) : envelope.decrypt(sealed, Buffer.from("row=1")),
      );
      const results = await Promise.allSettled(calls);
      assert.ok(results.every((r) => r.status === "rejected" && r.reason instanceof RekeyError && r.reason.transient));
      assert.equal(attempts.filter((rpc) => rpc.endsWith("GenerateDataKey")).length, 1);
      assert.equal(attempts.filter((rpc) => rpc.endsWith("Decrypt")).length, 1);
      await assert.rejects(envelope.encrypt(Buffer.from("pt"), Buffer.from("ad")), RekeyError);
      assert.equal(attempts.filter((rpc) => rpc.endsWith("GenerateDataKey")).length, 2);
      envelope.close();
    } finally {
      down.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((done) => silent.close(() => done()));
    }
  });
});
