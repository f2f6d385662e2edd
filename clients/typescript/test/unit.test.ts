// Offline checks of the pieces the live tests cannot steer: the status → error mapping for
// statuses a healthy server does not produce on demand (rate limiting, internal, reworded
// messages, reasons newer than the client), the retry arithmetic, and configuration.

import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { describe, test } from "node:test";

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AuthenticationFailedError,
  CachePolicy,
  Client,
  ConfigError,
  DataKey,
  DeadlineExceededError,
  DEFAULT_ADDR,
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_BATCH_MAX_ITEMS,
  DEFAULT_RETRY_POLICY,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  NotFoundError,
  optionsFromEnv,
  PermissionDeniedError,
  proto,
  RateLimitedError,
  RekeyError,
  TooLargeError,
  TransportError,
  UnavailableError,
  VersionRetiredError,
} from "../src/index.js";

import { type BatchResultShape, planBatches, sendMany } from "../src/client/batch.js";
import { errorFromCall, errorFromItem } from "../src/client/errors.js";
import { backoff, backoffBound, nextWait } from "../src/client/retry.js";

function status(code: Code, message: string, metadata: Record<string, string> = {}): ConnectError {
  return new ConnectError(message, code, metadata);
}

describe("error mapping", () => {
  test("the server's reason decides over the message", () => {
    const e1 = errorFromCall(status(Code.NotFound, "reworded", { "rekey-error-reason": "ERROR_REASON_KEY_NOT_FOUND" }), "other");
    assert.ok(e1 instanceof KeyNotFoundError);
    assert.equal(e1.message, "reworded");
    assert.equal(e1.code, "NOT_FOUND");
    const e2 = errorFromCall(
      status(Code.InvalidArgument, "reworded", { "rekey-error-reason": "ERROR_REASON_AUTHENTICATION_FAILED" }),
      "other",
    );
    assert.ok(e2 instanceof AuthenticationFailedError);
    const e3 = errorFromCall(
      status(Code.FailedPrecondition, "x", { "rekey-error-reason": "ERROR_REASON_VERSION_RETIRED" }),
      "value",
    );
    assert.ok(e3 instanceof VersionRetiredError);
    const e4 = errorFromCall(
      status(Code.ResourceExhausted, "slow down", { "rekey-error-reason": "ERROR_REASON_RATE_LIMITED", "retry-after": "9" }),
      "other",
    );
    assert.ok(e4 instanceof RateLimitedError);
    assert.equal(e4.retryAfter, 9);
    // An unknown reason falls back to the code.
    const e5 = errorFromCall(status(Code.NotFound, "event x", { "rekey-error-reason": "ERROR_REASON_FROM_THE_FUTURE" }), "other");
    assert.ok(e5 instanceof NotFoundError);
  });

  test("documented codes map to their classes without a reason", () => {
    const map = (code: Code, message: string, input: "value" | "other" = "other") => errorFromCall(status(code, message), input);
    assert.ok(map(Code.NotFound, 'key "K" does not exist; GetStatus lists the keys') instanceof KeyNotFoundError);
    assert.ok(map(Code.NotFound, 'version 3 of key "K" does not exist') instanceof KeyNotFoundError);
    assert.ok(map(Code.NotFound, 'rotation event "e" does not exist') instanceof NotFoundError);
    assert.ok(
      map(Code.FailedPrecondition, 'version 1 of key "K" is retired and can no longer be used; re-encrypt', "value") instanceof
        VersionRetiredError,
    );
    assert.ok(map(Code.FailedPrecondition, "key rotation is disabled") instanceof FailedPreconditionError);
    assert.ok(map(Code.InvalidArgument, "ciphertext failed authentication: it was modified", "value") instanceof AuthenticationFailedError);
    assert.ok(map(Code.InvalidArgument, "ciphertext is truncated", "value") instanceof InvalidCiphertextError);
    assert.ok(map(Code.InvalidArgument, "invalid key name", "other") instanceof InvalidArgumentError);
    const limited = map(Code.ResourceExhausted, "too many failed authentication attempts from 127.0.0.1; retry in 42 s");
    assert.ok(limited instanceof RateLimitedError);
    assert.equal(limited.retryAfter, 42);
    assert.ok(map(Code.ResourceExhausted, "plaintext is 9 bytes, larger than") instanceof TooLargeError);
    assert.ok(map(Code.OutOfRange, "decoded message length too large") instanceof TooLargeError);
    assert.ok(map(Code.Internal, "see the server log") instanceof InternalError);
    assert.ok(map(Code.Unknown, "?") instanceof TransportError);
    assert.ok(map(Code.Canceled, "?") instanceof TransportError);
    assert.ok(map(Code.Canceled, "Timeout expired") instanceof DeadlineExceededError);
    assert.ok(map(Code.Unavailable, "down") instanceof UnavailableError);
  });

  test("only Unavailable and DeadlineExceeded are transient", () => {
    assert.equal(errorFromCall(status(Code.Unavailable, ""), "other").transient, true);
    assert.equal(errorFromCall(status(Code.DeadlineExceeded, ""), "other").transient, true);
    for (const code of [Code.InvalidArgument, Code.NotFound, Code.Internal, Code.PermissionDenied]) {
      assert.equal(errorFromCall(status(code, ""), "other").transient, false, Code[code]);
    }
  });

  test("errors are named after their class", () => {
    const e = errorFromCall(status(Code.NotFound, 'key "P" does not exist'), "other");
    assert.equal(e.name, "KeyNotFoundError");
    assert.match(String(e), /^KeyNotFoundError: key "P" does not exist/);
  });
});

function item(code: Code, reason: proto.ErrorReason, message: string): proto.ItemError {
  return create(proto.ItemErrorSchema, { code, reason, message });
}

describe("batch item errors", () => {

  test("an ItemError maps by its reason as a status with that reason would", () => {
    const cases: [Code, proto.ErrorReason, new (...args: never[]) => RekeyError][] = [
      [Code.NotFound, proto.ErrorReason.KEY_NOT_FOUND, KeyNotFoundError],
      [Code.NotFound, proto.ErrorReason.VERSION_NOT_FOUND, KeyNotFoundError],
      [Code.FailedPrecondition, proto.ErrorReason.VERSION_RETIRED, VersionRetiredError],
      [Code.FailedPrecondition, proto.ErrorReason.WRONG_PURPOSE, FailedPreconditionError],
      [Code.InvalidArgument, proto.ErrorReason.INVALID_VALUE, InvalidCiphertextError],
      [Code.InvalidArgument, proto.ErrorReason.AUTHENTICATION_FAILED, AuthenticationFailedError],
      [Code.InvalidArgument, proto.ErrorReason.INVALID_ARGUMENT, InvalidArgumentError],
      [Code.ResourceExhausted, proto.ErrorReason.TOO_LARGE, TooLargeError],
      [Code.PermissionDenied, proto.ErrorReason.PERMISSION_DENIED, PermissionDeniedError],
      [Code.Unavailable, proto.ErrorReason.UNAVAILABLE, UnavailableError],
      [Code.Internal, proto.ErrorReason.INTERNAL, InternalError],
    ];
    for (const [code, reason, cls] of cases) {
      for (const input of ["value", "other"] as const) {
        const e = errorFromItem(item(code, reason, "reworded"), input);
        const viaStatus = errorFromCall(status(code, "reworded", { "rekey-error-reason": `ERROR_REASON_${proto.ErrorReason[reason]}` }), input);
        assert.ok(e instanceof cls, `${proto.ErrorReason[reason]}: ${e.name}`);
        assert.equal(e.constructor, viaStatus.constructor);
        assert.equal(e.message, "reworded");
        assert.equal(e.code, viaStatus.code);
      }
    }
    const limited = errorFromItem(item(Code.ResourceExhausted, proto.ErrorReason.RATE_LIMITED, "too many failed authentication attempts; retry in 7 s"), "other");
    assert.ok(limited instanceof RateLimitedError);
    assert.equal(limited.retryAfter, 7);
  });

  test("without a reason (or with one newer than the client) the code decides, items of Decrypt/Rewrap read as values", () => {
    const none = proto.ErrorReason.UNSPECIFIED;
    assert.ok(errorFromItem(item(Code.InvalidArgument, none, "ciphertext is truncated"), "value") instanceof InvalidCiphertextError);
    assert.ok(errorFromItem(item(Code.InvalidArgument, none, "bad key name"), "other") instanceof InvalidArgumentError);
    assert.ok(errorFromItem(item(Code.InvalidArgument, none, "ciphertext failed authentication: modified"), "value") instanceof AuthenticationFailedError);
    assert.ok(errorFromItem(item(Code.NotFound, 99 as proto.ErrorReason, 'key "K" does not exist'), "other") instanceof KeyNotFoundError);
    assert.ok(errorFromItem(item(Code.ResourceExhausted, none, "too big"), "other") instanceof TooLargeError);
    const odd = errorFromItem(item(99 as Code, none, "?"), "other");
    assert.ok(odd instanceof InternalError);
    assert.equal(odd.code, "CODE_99");
    assert.equal(errorFromItem(item(Code.NotFound, proto.ErrorReason.KEY_NOT_FOUND, "x"), "other").code, "NOT_FOUND");
  });
});

describe("batch splitting", () => {
  const limits = (maxItems: number, maxBytes: number) => ({ maxItems, maxBytes });

  test("consecutive batches within the item and byte limits, input order kept", () => {
    assert.deepEqual(planBatches([], limits(3, 100)), { batches: [], oversized: [] });
    assert.deepEqual(planBatches([1, 1, 1, 1, 1, 1, 1], limits(3, 100)).batches, [[0, 1, 2], [3, 4, 5], [6]]);
    // Bytes: a batch may reach the limit exactly, never pass it.
    assert.deepEqual(planBatches([40, 60, 1, 99, 1], limits(10, 100)).batches, [[0, 1], [2, 3], [4]]);
    assert.deepEqual(planBatches([100, 100, 0, 0], limits(10, 100)).batches, [[0], [1, 2, 3]]);
    // 25,000 items at the server's defaults: 3 calls.
    const plan = planBatches(new Array<number>(25_000).fill(16), limits(DEFAULT_BATCH_MAX_ITEMS, DEFAULT_BATCH_MAX_BYTES));
    assert.deepEqual(plan.batches.map((b) => b.length), [10_000, 10_000, 5_000]);
    assert.deepEqual(plan.batches.flat(), Array.from({ length: 25_000 }, (_, i) => i));
  });

  test("an item above the byte limit alone is left out; the others go on around it", () => {
    const plan = planBatches([10, 101, 10, 500, 10], limits(2, 100));
    assert.deepEqual(plan.oversized, [1, 3]);
    assert.deepEqual(plan.batches, [[0, 2], [4]]);
  });

  test("sendMany: results in input order, typed per-item errors, local TooLargeError, one call per batch", async () => {
    const sent: number[][] = [];
    const results = await sendMany<number, { v: number }>(
      "EchoBatch",
      [5, 7, 1_000, 9, 11],
      (n) => n,
      limits(2, 100),
      "value",
      async (batch) => {
        sent.push(batch);
        return batch.map((n): BatchResultShape<{ v: number }> =>
          n === 9
            ? { result: { case: "error", value: item(Code.InvalidArgument, proto.ErrorReason.AUTHENTICATION_FAILED, "modified") } }
            : { result: { case: "response", value: { v: n * 2 } } },
        );
      },
    );
    assert.deepEqual(sent, [[5, 7], [9, 11]]);
    assert.equal(results.length, 5);
    assert.deepEqual(results[0], { v: 10 });
    assert.deepEqual(results[1], { v: 14 });
    assert.ok(results[2] instanceof TooLargeError);
    assert.equal(results[2].message, "item 2 is 1000 bytes, above the batch limit of 100 bytes");
    assert.ok(results[3] instanceof AuthenticationFailedError);
    assert.deepEqual(results[4], { v: 22 });
  });

  test("sendMany: a call's error rejects the whole; a wrong number of results is an InternalError", async () => {
    const failing = sendMany<number, number>("X", [1, 2, 3], () => 1, limits(2, 10), "other", async (batch) => {
      if (batch[0] === 3) {
        throw new UnavailableError("down", "UNAVAILABLE");
      }
      return batch.map((n) => ({ result: { case: "response" as const, value: n } }));
    });
    await assert.rejects(failing, UnavailableError);
    const short = sendMany<number, number>("X", [1, 2], () => 1, limits(5, 10), "other", async () => [
      { result: { case: "response", value: 1 } },
    ]);
    await assert.rejects(short, InternalError);
    const neither = await sendMany<number, number>("X", [1], () => 1, limits(5, 10), "other", async () => [{ result: { case: undefined } }]);
    assert.ok(neither[0] instanceof InternalError);
  });

  test("every rpc of the three services is a Client method", () => {
    const client = new Client({ addr: "h:1" });
    for (const service of [proto.KeyService, proto.RotationService, proto.AdminService]) {
      for (const method of service.methods) {
        assert.equal(typeof (client as unknown as Record<string, unknown>)[method.localName], "function", `${service.typeName}.${method.name}`);
      }
    }
    client.close();
  });

  test("the streaming rpcs are EncryptStream and DecryptStream, both bidirectional (Client.stream's only kind)", () => {
    const streaming = [proto.KeyService, proto.RotationService, proto.AdminService]
      .flatMap((service) => service.methods)
      .filter((method) => method.methodKind !== "unary")
      .map((method) => `${method.name}:${method.methodKind}`);
    assert.deepEqual(streaming, ["EncryptStream:bidi_streaming", "DecryptStream:bidi_streaming"]);
  });

  test("batchMaxItems and batchMaxBytes must be positive integers", () => {
    assert.throws(() => new Client({ addr: "h:1", batchMaxItems: 0 }), ConfigError);
    assert.throws(() => new Client({ addr: "h:1", batchMaxItems: 1.5 }), ConfigError);
    assert.throws(() => new Client({ addr: "h:1", batchMaxBytes: -1 }), ConfigError);
    new Client({ addr: "h:1", batchMaxItems: 7, batchMaxBytes: 1 }).close();
    assert.equal(DEFAULT_BATCH_MAX_ITEMS, 10_000);
    assert.equal(DEFAULT_BATCH_MAX_BYTES, 16 * 1024 * 1024);
  });
});

describe("retry policy", () => {
  const unavailable = new UnavailableError("down");
  test("bounds double from the initial backoff up to the cap", () => {
    assert.equal(backoffBound(DEFAULT_RETRY_POLICY, 1), 50);
    assert.equal(backoffBound(DEFAULT_RETRY_POLICY, 2), 100);
    assert.equal(backoffBound(DEFAULT_RETRY_POLICY, 3), 200);
    assert.equal(backoffBound(DEFAULT_RETRY_POLICY, 7), 2_000);
    assert.equal(backoffBound(DEFAULT_RETRY_POLICY, 1_000), 2_000);
  });

  test("waits are jittered within the bound", () => {
    const waits = Array.from({ length: 200 }, () => backoff(DEFAULT_RETRY_POLICY, 3));
    assert.ok(waits.every((w) => w >= 0 && w <= 200));
    assert.ok(waits.some((w) => w !== waits[0]), "full jitter: not all equal");
  });

  test("transient errors of idempotent rpcs are retried up to maxAttempts, never for non-idempotent ones", () => {
    for (const attempt of [1, 2, 3]) {
      assert.notEqual(nextWait(DEFAULT_RETRY_POLICY, unavailable, "idempotent", attempt, 60_000), undefined);
    }
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, unavailable, "idempotent", 4, 60_000), undefined);
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, unavailable, "not-idempotent", 1, 60_000), undefined);
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, new InvalidArgumentError("x"), "idempotent", 1, 60_000), undefined);
  });

  test("the rate-limit hint is honoured for any rpc, within the deadline only", () => {
    const limited = new RateLimitedError("slow", "RESOURCE_EXHAUSTED", 2);
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, limited, "not-idempotent", 1, 60_000), 2_000);
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, limited, "idempotent", 1, 1_000), undefined);
    assert.equal(nextWait(DEFAULT_RETRY_POLICY, new RateLimitedError("x", "X", undefined), "idempotent", 1, 60_000), undefined);
  });
});

describe("configuration", () => {
  test("the environment gives address, token and certificates", () => {
    assert.equal(optionsFromEnv({}, {}).addr, DEFAULT_ADDR);
    const o = optionsFromEnv({}, { REKEY_ADDR: "10.0.0.1:1", REKEY_TOKEN: "tok" });
    assert.equal(o.addr, "10.0.0.1:1");
    assert.equal(o.token, "tok");
    const f = optionsFromEnv({}, { REKEY_TOKEN: "tok", REKEY_TOKEN_FILE: "/t" });
    assert.equal(f.tokenFile, "/t");
    assert.equal(f.token, undefined);
    assert.throws(() => optionsFromEnv({}, { REKEY_CLIENT_CERT_FILE: "/c" }), ConfigError);
    assert.equal(optionsFromEnv({ addr: "h:2" }, { REKEY_ADDR: "h:1" }).addr, "h:2");
  });

  test("a token file is read and trimmed; an empty one is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "rekey-ts-unit-"));
    writeFileSync(join(dir, "token"), "  file-token-value\n");
    writeFileSync(join(dir, "empty"), "\n");
    const client = new Client({ addr: "h:1", tokenFile: join(dir, "token") });
    assert.ok(!inspect(client).includes("file-token-value"));
    client.close();
    assert.throws(() => new Client({ addr: "h:1", tokenFile: join(dir, "empty") }), ConfigError);
    assert.throws(() => new Client({ addr: "h:1", tokenFile: join(dir, "missing") }), ConfigError);
  });

  test("https needs a CA, certificates need https, and a bad token is refused without echoing it", () => {
    assert.throws(() => new Client({ addr: "https://h:1" }), /REKEY_CA_FILE/);
    assert.throws(() => new Client({ addr: "http://h:1", caFile: "/ca.pem" }), /not https/);
    assert.throws(
      () => new Client({ addr: "h:1", token: "sec\nret" }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes("sec"),
    );
  });

  test("inspect and JSON of a client never show the token", () => {
    const client = new Client({ addr: "h:1", token: "super-secret-token" });
    assert.ok(!inspect(client).includes("super-secret"));
    assert.ok(inspect(client).includes("<redacted>"));
    assert.ok(!JSON.stringify(client).includes("super-secret"));
    client.close();
  });

  test("a cache policy needs sane numbers", () => {
    assert.throws(() => new CachePolicy({ maxAgeMs: -1 }), InvalidArgumentError);
    const p = new CachePolicy({ maxAgeMs: 1000, maxMessages: 0 });
    assert.equal(p.maxMessages, 1);
    assert.equal(p.decryptEntries, 1000);
    assert.equal(p.decryptTtlMs, 1000);
  });
});

describe("data key hygiene", () => {
  const dk = Buffer.from("8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677", "hex");
  const wrapped = Buffer.from(
    "524b01010c637573746f6d65722e70696900000007b0b1b2b3b4b5b6b7b8b9babb11ccf010201055a047e9b5918908eeb50ca5e369d9f361ca5edfa0c218d79461c70723da9965fbc15187889ae1973db3",
    "hex",
  );

  test("a data key is refused unless the wrapped key fits its name and version", () => {
    assert.throws(() => new DataKey("customer.pii", 8, dk, wrapped), /wrapped data key does not fit/);
    assert.throws(() => new DataKey("other", 7, dk, wrapped), /wrapped data key does not fit/);
    assert.throws(() => new DataKey("customer.pii", 7, dk.subarray(1), wrapped), /32 bytes/);
  });

  test("inspect and JSON never show the key; a released key is wiped and refuses to seal", () => {
    const key = new DataKey("customer.pii", 7, dk, wrapped);
    const shown = inspect(key, { showHidden: true, depth: 10 }) + JSON.stringify(key);
    assert.ok(!shown.includes(dk.toString("hex")), shown);
    assert.ok(!shown.includes("136,153"), shown);
    const sealed = key.retain().seal(Buffer.from("x"), Buffer.alloc(0));
    assert.ok(sealed.length > 0);
    key.release();
    assert.equal(key.wiped, true);
    assert.throws(() => key.seal(Buffer.from("x"), Buffer.alloc(0)), InternalError);
  });
});
