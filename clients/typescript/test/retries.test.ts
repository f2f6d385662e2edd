// Retries against a port nothing listens on (UNAVAILABLE): an idempotent rpc is tried
// maxAttempts times with backoff, a non-idempotent one once, all within the deadline; and a
// per-attempt timeout shorter than the server's answer gives DeadlineExceededError.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Client, DeadlineExceededError, UnavailableError } from "../src/index.js";

import { closedPort, KEY } from "./harness.js";

function recordingClient(port: number, maxAttempts: number): { client: Client; attempts: { rpc: string; at: number }[] } {
  const attempts: { rpc: string; at: number }[] = [];
  const client = new Client({
    addr: `127.0.0.1:${port}`,
    token: "t".repeat(40),
    retry: { maxAttempts, initialBackoffMs: 40, maxBackoffMs: 200 },
    observer: { onAttempt: (rpc) => attempts.push({ rpc, at: performance.now() }) },
  });
  return { client, attempts };
}

describe("retries", () => {
  test("an idempotent rpc is tried maxAttempts times, then UnavailableError", async () => {
    const { client, attempts } = recordingClient(await closedPort(), 4);
    await assert.rejects(client.encrypt({ keyName: KEY, plaintext: Buffer.from("x") }), UnavailableError);
    assert.equal(attempts.length, 4);
    assert.ok(attempts.every((a) => a.rpc === "Encrypt"));
    client.close();
  });

  test("the defaults are 4 attempts", async () => {
    const attempts: number[] = [];
    const client = new Client({ addr: `127.0.0.1:${await closedPort()}`, observer: { onAttempt: (_r, n) => attempts.push(n) } });
    await assert.rejects(client.getStatus({ keyName: "" }), UnavailableError);
    assert.deepEqual(attempts, [1, 2, 3, 4]);
    client.close();
  });

  test("non-idempotent rpcs are tried once: Rotate, CreateToken, forced ScheduleRotation", async () => {
    const { client, attempts } = recordingClient(await closedPort(), 4);
    await assert.rejects(client.rotate({ keyName: KEY, force: true }), UnavailableError);
    await assert.rejects(client.createToken({ name: "x" }), UnavailableError);
    await assert.rejects(client.scheduleRotation({ keyName: KEY, force: true }), UnavailableError);
    assert.deepEqual(
      attempts.map((a) => a.rpc),
      ["Rotate", "CreateToken", "ScheduleRotation"],
    );
    // Without force, ScheduleRotation is safe to repeat and is retried.
    attempts.length = 0;
    await assert.rejects(client.scheduleRotation({ keyName: KEY }), UnavailableError);
    assert.equal(attempts.length, 4);
    client.close();
  });

  test("the batch rpcs are idempotent: encryptMany, decryptMany, rewrapMany are retried, and a failed call rejects whole", async () => {
    const { client, attempts } = recordingClient(await closedPort(), 3);
    await assert.rejects(client.encryptMany([{ keyName: KEY, plaintext: Buffer.from("x") }]), UnavailableError);
    await assert.rejects(client.decryptMany([{ ciphertext: Buffer.from("x") }]), UnavailableError);
    await assert.rejects(client.rewrapMany([{ ciphertext: Buffer.from("x") }]), UnavailableError);
    assert.deepEqual(
      attempts.map((a) => a.rpc),
      ["EncryptBatch", "EncryptBatch", "EncryptBatch", "DecryptBatch", "DecryptBatch", "DecryptBatch", "RewrapBatch", "RewrapBatch", "RewrapBatch"],
    );
    // Nothing to send: no call at all.
    attempts.length = 0;
    assert.deepEqual(await client.encryptMany([]), []);
    assert.deepEqual(await client.decryptMany([]), []);
    assert.deepEqual(await client.rewrapMany([]), []);
    assert.equal(attempts.length, 0);
    client.close();
  });

  test("maxAttempts 1 disables retries; the overall deadline bounds the retries", async () => {
    const once = recordingClient(await closedPort(), 1);
    await assert.rejects(once.client.getStatus({ keyName: "" }), UnavailableError);
    assert.equal(once.attempts.length, 1);
    once.client.close();

    const many = recordingClient(await closedPort(), 1_000);
    const started = performance.now();
    await assert.rejects(many.client.getStatus({ keyName: "" }, { deadlineMs: 600 }), (e: unknown) => e instanceof UnavailableError || e instanceof DeadlineExceededError);
    const took = performance.now() - started;
    assert.ok(took < 1_500, `took ${took} ms`);
    assert.ok(many.attempts.length >= 3 && many.attempts.length < 1_000, `${many.attempts.length} attempts`);
    many.client.close();
  });
});
