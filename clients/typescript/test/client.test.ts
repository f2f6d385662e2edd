// The Client against a real `rekey serve`: round trips of the data-plane rpcs, a look at the
// rotation and admin services, and every error class the server can produce on demand.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  AuthenticationFailedError,
  Client,
  FailedPreconditionError,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  NotFoundError,
  PermissionDeniedError,
  proto,
  RekeyError,
  TooLargeError,
  UnauthenticatedError,
} from "../src/index.js";

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

/** The error a call throws (fails the test if it resolves). */
async function failure(call: () => Promise<unknown>): Promise<RekeyError> {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof RekeyError, `not a RekeyError: ${String(e)}`);
    return e;
  }
  assert.fail("the call succeeded");
}

describe("round trips", () => {
  test("Encrypt then Decrypt gives the plaintext back, bound to the associated data", async () => {
    const plaintext = Buffer.from("4111 1111 1111 1111");
    const ad = Buffer.from("user=7");
    const encrypted = await client.encrypt({ keyName: KEY, plaintext, associatedData: ad });
    assert.ok(encrypted.keyVersion >= 1);
    assert.ok(!Buffer.from(encrypted.ciphertext).includes(plaintext));
    const decrypted = await client.decrypt({ ciphertext: encrypted.ciphertext, associatedData: ad });
    assert.deepEqual(Buffer.from(decrypted.plaintext), plaintext);
    assert.equal(decrypted.keyName, KEY);
  });

  test("Rewrap keeps the value decryptable; Sign and Verify agree", async () => {
    const encrypted = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("x") });
    const rewrapped = await client.rewrap({ ciphertext: encrypted.ciphertext });
    const decrypted = await client.decrypt({ ciphertext: rewrapped.ciphertext });
    assert.equal(Buffer.from(decrypted.plaintext).toString(), "x");
    const message = Buffer.from("signed message");
    const signed = await client.sign({ keyName: "API_SIGNATURE", message });
    assert.equal((await client.verify({ message, signature: signed.signature })).valid, true);
    assert.equal((await client.verify({ message: Buffer.from("other"), signature: signed.signature })).valid, false);
  });

  test("GetStatus lists the built-in keys; the rotation and admin services answer", async () => {
    const status = await client.getStatus({ keyName: "" });
    const names = status.keys.map((k) => k.keyName);
    assert.ok(names.includes(KEY), names.join(","));
    const mine = status.keys.find((k) => k.keyName === KEY);
    assert.equal(mine?.purpose, proto.KeyPurpose.ENCRYPT_DECRYPT);
    const schedule = await client.getSchedule({});
    assert.ok(schedule.keys.length >= 5);
    const tokens = await client.listTokens({});
    assert.ok(Array.isArray(tokens.tokens));
    const audit = await client.verifyAudit({});
    assert.equal(audit.intact, true);
    const events = await client.listEvents({});
    assert.ok(Array.isArray(events.events));
  });

  test("a per-call traceparent is accepted", async () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const encrypted = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("t") }, { traceparent });
    assert.ok(encrypted.ciphertext.length > 0);
    await assert.rejects(client.encrypt({ keyName: KEY, plaintext: Buffer.from("t") }, { traceparent: "nope" }), /traceparent/);
  });
});

describe("every error class the server produces", () => {
  test("unknown key → KeyNotFoundError", async () => {
    const e = await failure(() => client.encrypt({ keyName: "NO_SUCH_KEY", plaintext: Buffer.from("x") }));
    assert.ok(e instanceof KeyNotFoundError, e.name);
    assert.equal(e.code, "NOT_FOUND");
    assert.match(e.message, /NO_SUCH_KEY/);
  });

  test("unknown rotation event / token → NotFoundError", async () => {
    const e = await failure(() => client.getEvent({ eventId: "00000000-0000-0000-0000-000000000000" }));
    assert.ok(e instanceof NotFoundError, e.name);
    const t = await failure(() => client.revokeToken({ tokenId: "no-such-token" }));
    assert.ok(t instanceof NotFoundError, t.name);
  });

  test("malformed key name → InvalidArgumentError", async () => {
    const e = await failure(() => client.encrypt({ keyName: "bad name!", plaintext: Buffer.from("x") }));
    assert.ok(e instanceof InvalidArgumentError, e.name);
  });

  test("tampered ciphertext → AuthenticationFailedError; different associated data too", async () => {
    const encrypted = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("secret"), associatedData: Buffer.from("a") });
    const tampered = Buffer.from(encrypted.ciphertext);
    tampered[tampered.length - 1]! ^= 0x01;
    const e = await failure(() => client.decrypt({ ciphertext: tampered, associatedData: Buffer.from("a") }));
    assert.ok(e instanceof AuthenticationFailedError, e.name);
    const f = await failure(() => client.decrypt({ ciphertext: encrypted.ciphertext, associatedData: Buffer.from("b") }));
    assert.ok(f instanceof AuthenticationFailedError, f.name);
    assert.ok(!f.message.includes("secret"));
  });

  test("garbage → InvalidCiphertextError", async () => {
    const e = await failure(() => client.decrypt({ ciphertext: Buffer.from("not a rekey value") }));
    assert.ok(e instanceof InvalidCiphertextError, e.name);
    const empty = await failure(() => client.decrypt({ ciphertext: new Uint8Array() }));
    assert.ok(empty instanceof InvalidCiphertextError, empty.name);
  });

  test("signing with an encryption key → FailedPreconditionError", async () => {
    const e = await failure(() => client.sign({ keyName: KEY, message: Buffer.from("m") }));
    assert.ok(e instanceof FailedPreconditionError, e.name);
  });

  test("a plaintext over the server's limit → TooLargeError", async () => {
    const e = await failure(() => client.encrypt({ keyName: KEY, plaintext: Buffer.alloc(2 * 1024 * 1024) }));
    assert.ok(e instanceof TooLargeError, e.name);
  });

  test("wrong token → UnauthenticatedError after exactly one attempt", async () => {
    const attempts: string[] = [];
    const wrong = server.client({
      token: "not-the-token-not-the-token-not-the-token",
      observer: { onAttempt: (rpc, attempt, error) => attempts.push(`${rpc}#${attempt}:${error?.name ?? "ok"}`) },
    });
    const e = await failure(() => wrong.getStatus({ keyName: KEY }));
    assert.ok(e instanceof UnauthenticatedError, e.name);
    assert.deepEqual(attempts, ["GetStatus#1:UnauthenticatedError"]);
  });

  test("a token scoped to another key → PermissionDeniedError", async () => {
    const scoped = await client.createToken({
      name: "sessions-only",
      role: proto.TokenRole.CLIENT,
      keyNames: ["SESSION_ENCRYPTION"],
    });
    const limited = server.client({ token: scoped.token });
    await limited.encrypt({ keyName: "SESSION_ENCRYPTION", plaintext: Buffer.from("ok") });
    const e = await failure(() => limited.encrypt({ keyName: KEY, plaintext: Buffer.from("no") }));
    assert.ok(e instanceof PermissionDeniedError, e.name);
    const admin = await failure(() => limited.listTokens({}));
    assert.ok(admin instanceof PermissionDeniedError, admin.name);
  });
});
