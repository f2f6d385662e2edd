// A Rekey client: one typed method per rpc of KeyService, RotationService and AdminService,
// each stating once whether the proto calls it safe to retry and whether its subject is a Rekey
// value (which decides how INVALID_ARGUMENT reads), as crates/rekey-client/src/rpcs.rs does.
// The two bidirectional-streaming rpcs (EncryptStream, DecryptStream) take and yield byte
// streams and are never retried: their input is consumed as it is sent.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { inspect } from "node:util";

import { CachePolicy, type CachePolicyOptions } from "../envelope/policy.js";
import { Envelope, type DecryptStreamOptions, type EncryptStreamOptions } from "../envelope/envelope.js";

import type {
  EncryptResponse,
  EncryptBatchResponse,
  DecryptResponse,
  DecryptBatchResponse,
  GenerateDataKeyResponse,
  RewrapResponse,
  RewrapBatchResponse,
  SignResponse,
  VerifyResponse,
  RotateResponse,
  RollbackResponse,
  GetStatusResponse,
} from "../gen/rekey/v1/key_service_pb.js";
import {
  KeyService,
  type EncryptRequestSchema,
  type EncryptBatchRequestSchema,
  type EncryptStreamRequestSchema,
  type DecryptRequestSchema,
  type DecryptBatchRequestSchema,
  type DecryptStreamRequestSchema,
  type GenerateDataKeyRequestSchema,
  type RewrapRequestSchema,
  type RewrapBatchRequestSchema,
  type SignRequestSchema,
  type VerifyRequestSchema,
  type RotateRequestSchema,
  type RollbackRequestSchema,
  type GetStatusRequestSchema,
} from "../gen/rekey/v1/key_service_pb.js";
import type {
  GetImpactResponse,
  ScheduleRotationResponse,
  GetScheduleResponse,
  GetEventResponse,
  ListEventsResponse,
  ExecuteEventResponse,
  RetryEventResponse,
  RollbackEventResponse,
} from "../gen/rekey/v1/rotation_service_pb.js";
import {
  RotationService,
  type GetImpactRequestSchema,
  type ScheduleRotationRequestSchema,
  type GetScheduleRequestSchema,
  type GetEventRequestSchema,
  type ListEventsRequestSchema,
  type ExecuteEventRequestSchema,
  type RetryEventRequestSchema,
  type RollbackEventRequestSchema,
} from "../gen/rekey/v1/rotation_service_pb.js";
import type {
  CreateTokenResponse,
  ListTokensResponse,
  RevokeTokenResponse,
  ListAuditResponse,
  VerifyAuditResponse,
  GetReportResponse,
} from "../gen/rekey/v1/admin_service_pb.js";
import {
  AdminService,
  type CreateTokenRequestSchema,
  type ListTokensRequestSchema,
  type RevokeTokenRequestSchema,
  type ListAuditRequestSchema,
  type VerifyAuditRequestSchema,
  type GetReportRequestSchema,
} from "../gen/rekey/v1/admin_service_pb.js";
import { type BatchLimits, byteLength, sendMany } from "./batch.js";
import { type CallOptions, CallRunner } from "./call.js";
import { InvalidArgumentError, type RekeyError } from "./errors.js";
import { type ClientOptions, optionsFromEnv, resolveConfig } from "./config.js";
import type { Observer } from "./observer.js";

/**
 * A Rekey client. Every rpc is a method taking the request message (a plain object, e.g.
 * `{ keyName: "TOKEN_ENCRYPTION", plaintext }`) and optional {@link CallOptions}, returning the
 * response message. Errors are the typed subclasses of `RekeyError`. `envelope()` encrypts
 * locally. One client keeps one HTTP/2 connection; share it, and `close()` it at the end.
 */
export class Client {
  readonly #runner: CallRunner;
  readonly #baseUrl: string;
  readonly #batchLimits: BatchLimits;

  /** A client as `options` say (nothing is sent until the first call). */
  constructor(options: ClientOptions = {}) {
    const config = resolveConfig(options);
    this.#baseUrl = config.baseUrl;
    this.#batchLimits = Object.freeze({ maxItems: config.batchMaxItems, maxBytes: config.batchMaxBytes });
    this.#runner = new CallRunner(config);
  }

  /**
   * A client configured from `REKEY_ADDR`, `REKEY_TOKEN_FILE`/`REKEY_TOKEN`, `REKEY_CA_FILE`,
   * `REKEY_CLIENT_CERT_FILE` + `REKEY_CLIENT_KEY_FILE`; `overrides` win.
   */
  static fromEnv(overrides: ClientOptions = {}): Client {
    return new Client(optionsFromEnv(overrides));
  }

  /** The server's address, as used. */
  get address(): string {
    return this.#baseUrl;
  }

  /** @internal The observer given in the options (the envelope reports its cache events to it). */
  get observer(): Observer | undefined {
    return this.#runner.observer;
  }

  /** Closes the connection. Calls in flight fail; a later call opens a new connection. */
  close(): void {
    this.#runner.close();
  }

  /**
   * An envelope cipher for `keyName` (an encryption key) with the given cache policy:
   * values sealed locally under a cached data key. Throws InvalidArgumentError for a
   * malformed key name; nothing is sent yet (see `Envelope.warm`).
   */
  envelope(keyName: string, policy: CachePolicy | CachePolicyOptions): Envelope {
    return new Envelope(this, keyName, policy instanceof CachePolicy ? policy : new CachePolicy(policy));
  }

  [inspect.custom](): string {
    return `Client { address: ${JSON.stringify(this.#baseUrl)}, token: <redacted> }`;
  }

  toJSON(): { address: string } {
    return { address: this.#baseUrl };
  }

  /** KeyService.Encrypt: encrypts on the server under the key's primary version. */
  async encrypt(request: MessageInitShape<typeof EncryptRequestSchema>, options?: CallOptions): Promise<EncryptResponse> {
    return this.#runner.call(KeyService.method.encrypt, request, "idempotent", "other", options);
  }

  /** KeyService.Decrypt: decrypts a ciphertext made by Encrypt, GenerateDataKey or Rewrap (envelope values go to `Envelope.decrypt`). */
  async decrypt(request: MessageInitShape<typeof DecryptRequestSchema>, options?: CallOptions): Promise<DecryptResponse> {
    return this.#runner.call(KeyService.method.decrypt, request, "idempotent", "value", options);
  }

  /** KeyService.GenerateDataKey: a fresh data key and its wrapped form. */
  async generateDataKey(request: MessageInitShape<typeof GenerateDataKeyRequestSchema>, options?: CallOptions): Promise<GenerateDataKeyResponse> {
    return this.#runner.call(KeyService.method.generateDataKey, request, "idempotent", "other", options);
  }

  /** KeyService.Rewrap: re-encrypts under the primary version without returning plaintext. */
  async rewrap(request: MessageInitShape<typeof RewrapRequestSchema>, options?: CallOptions): Promise<RewrapResponse> {
    return this.#runner.call(KeyService.method.rewrap, request, "idempotent", "value", options);
  }

  /**
   * KeyService.EncryptBatch: many Encrypts in one call; `results` in input order, each the
   * response or the item's `ItemError`. The whole call fails (TooLargeError) above the server's
   * limits; `encryptMany` splits and types the results for you.
   */
  async encryptBatch(request: MessageInitShape<typeof EncryptBatchRequestSchema>, options?: CallOptions): Promise<EncryptBatchResponse> {
    return this.#runner.call(KeyService.method.encryptBatch, request, "idempotent", "other", options);
  }

  /** KeyService.DecryptBatch: many Decrypts in one call, results in input order (see `decryptMany`). */
  async decryptBatch(request: MessageInitShape<typeof DecryptBatchRequestSchema>, options?: CallOptions): Promise<DecryptBatchResponse> {
    return this.#runner.call(KeyService.method.decryptBatch, request, "idempotent", "other", options);
  }

  /** KeyService.RewrapBatch: many Rewraps in one call, results in input order (see `rewrapMany`). */
  async rewrapBatch(request: MessageInitShape<typeof RewrapBatchRequestSchema>, options?: CallOptions): Promise<RewrapBatchResponse> {
    return this.#runner.call(KeyService.method.rewrapBatch, request, "idempotent", "other", options);
  }

  /**
   * Encrypts every item through EncryptBatch calls within `batchMaxItems` and `batchMaxBytes`
   * (plaintext + associated data), sent one after the other, each with `options`' deadline and
   * the retries. Resolves to one result per item, in input order: its EncryptResponse or its own
   * typed error (an item above `batchMaxBytes` alone is not sent: TooLargeError). The error of a
   * whole call (UnauthenticatedError, UnavailableError after the retries, ...) rejects. An empty
   * list resolves to `[]` without a call.
   */
  async encryptMany(
    items: ReadonlyArray<MessageInitShape<typeof EncryptRequestSchema>>,
    options?: CallOptions,
  ): Promise<Array<EncryptResponse | RekeyError>> {
    return sendMany(
      "EncryptBatch",
      items,
      (item) => byteLength(item.plaintext) + byteLength(item.associatedData),
      this.#batchLimits,
      "other",
      async (batch) => (await this.encryptBatch({ items: batch }, options)).results,
    );
  }

  /**
   * Decrypts every item through DecryptBatch calls (bytes counted: ciphertext + associated
   * data), as `encryptMany`: one DecryptResponse or typed error per item, in input order.
   */
  async decryptMany(
    items: ReadonlyArray<MessageInitShape<typeof DecryptRequestSchema>>,
    options?: CallOptions,
  ): Promise<Array<DecryptResponse | RekeyError>> {
    return sendMany(
      "DecryptBatch",
      items,
      (item) => byteLength(item.ciphertext) + byteLength(item.associatedData),
      this.#batchLimits,
      "value",
      async (batch) => (await this.decryptBatch({ items: batch }, options)).results,
    );
  }

  /**
   * Rewraps every item through RewrapBatch calls (bytes counted: ciphertext + associated
   * data), as `encryptMany`: one RewrapResponse or typed error per item, in input order.
   */
  async rewrapMany(
    items: ReadonlyArray<MessageInitShape<typeof RewrapRequestSchema>>,
    options?: CallOptions,
  ): Promise<Array<RewrapResponse | RekeyError>> {
    return sendMany(
      "RewrapBatch",
      items,
      (item) => byteLength(item.ciphertext) + byteLength(item.associatedData),
      this.#batchLimits,
      "value",
      async (batch) => (await this.rewrapBatch({ items: batch }, options)).results,
    );
  }

  /**
   * KeyService.EncryptStream: the server seals `chunks` (plaintext of any total length, in
   * chunks of any size; a Node `Readable` of bytes qualifies) into a stream ciphertext (kind
   * 0x04, `docs/ciphertext-format.md`) under `keyName`'s primary version, and the returned
   * iterable yields that ciphertext as it comes: the header first, then each segment once
   * sealed, the last one once `chunks` has ended. The bytes are those `Envelope.createEncryptStream`
   * makes, so `Envelope.createDecryptStream` or `decryptStream` opens them.
   *
   * `associatedData` is bound to every segment (give it again to decrypt); `segmentSize` is the
   * plaintext bytes per segment, 256 to 1048576 (default 65536; the server refuses another
   * size: InvalidArgumentError).
   *
   * Nothing is sent until the iteration starts. Errors are thrown while iterating, as the
   * RekeyError subclasses of `encrypt` (KeyNotFoundError, PermissionDeniedError, ...); an error
   * thrown by `chunks` itself is rethrown unchanged. If the iteration throws, the bytes already
   * yielded are an incomplete stream: discard them. **Never retried** (`chunks` is consumed as
   * it is sent and cannot be replayed): after UnavailableError, start again with fresh input.
   * Only `options.deadlineMs` (or `attemptTimeoutMs`) bounds the call; the client's default
   * deadline does not apply. Leaving the loop early cancels the call.
   */
  encryptStream(
    keyName: string,
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    { associatedData, segmentSize }: EncryptStreamOptions = {},
    options?: CallOptions,
  ): AsyncIterable<Uint8Array> {
    const runner = this.#runner;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
        const size = segmentSize ?? 0;
        if (!Number.isInteger(size) || size < 0 || size > 0xffff_ffff) {
          throw new InvalidArgumentError(`invalid segment size ${String(segmentSize)}: it must be an integer between 256 and 1048576 bytes`);
        }
        const first = { keyName, associatedData: bytes(associatedData), segmentSize: size };
        const requests = withFirst<MessageInitShape<typeof EncryptStreamRequestSchema>>(chunks, first);
        for await (const answer of runner.stream(KeyService.method.encryptStream, requests, "other", options)) {
          if (answer.chunk.length > 0) {
            yield answer.chunk;
          }
        }
      },
    };
  }

  /**
   * KeyService.DecryptStream: the server opens the stream ciphertext in `chunks` (any chunking;
   * made by `encryptStream` or `Envelope.createEncryptStream` under a key the token may
   * decrypt with), and the returned iterable yields its plaintext segment by segment, each once
   * authenticated. `associatedData` must be the bytes given to encrypt.
   *
   * **Plaintext before the end:** a truncated or extended stream is detected only at its end,
   * after the segments before it were yielded: treat the output as incomplete unless the
   * iteration finished without throwing. Errors are thrown while iterating, as the RekeyError
   * subclasses of `decrypt`: AuthenticationFailedError (a modified, reordered, dropped or
   * appended segment, other associated data), InvalidCiphertextError (not a stream ciphertext),
   * KeyNotFoundError, VersionRetiredError, ...; an error thrown by `chunks` itself is rethrown
   * unchanged. **Never retried** (`chunks` cannot be replayed); deadline and cancellation as
   * `encryptStream`.
   */
  decryptStream(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    { associatedData }: DecryptStreamOptions = {},
    options?: CallOptions,
  ): AsyncIterable<Uint8Array> {
    const runner = this.#runner;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
        const requests = withFirst<MessageInitShape<typeof DecryptStreamRequestSchema>>(chunks, { associatedData: bytes(associatedData) });
        for await (const answer of runner.stream(KeyService.method.decryptStream, requests, "value", options)) {
          if (answer.chunk.length > 0) {
            yield answer.chunk;
          }
        }
      },
    };
  }

  /** KeyService.Sign: HMAC-SHA256 under the key's primary version. */
  async sign(request: MessageInitShape<typeof SignRequestSchema>, options?: CallOptions): Promise<SignResponse> {
    return this.#runner.call(KeyService.method.sign, request, "idempotent", "other", options);
  }

  /** KeyService.Verify: `valid` is false for a mismatch; errors only when it cannot check. */
  async verify(request: MessageInitShape<typeof VerifyRequestSchema>, options?: CallOptions): Promise<VerifyResponse> {
    return this.#runner.call(KeyService.method.verify, request, "idempotent", "value", options);
  }

  /** KeyService.Rotate: a new primary version. Never retried: after UNAVAILABLE, check GetStatus before rotating again. */
  async rotate(request: MessageInitShape<typeof RotateRequestSchema>, options?: CallOptions): Promise<RotateResponse> {
    return this.#runner.call(KeyService.method.rotate, request, "not-idempotent", "other", options);
  }

  /** KeyService.Rollback: the previous version becomes primary again. Never retried. */
  async rollback(request: MessageInitShape<typeof RollbackRequestSchema>, options?: CallOptions): Promise<RollbackResponse> {
    return this.#runner.call(KeyService.method.rollback, request, "not-idempotent", "other", options);
  }

  /** KeyService.GetStatus: lifecycle status of one key, or of all with an empty name. */
  async getStatus(request: MessageInitShape<typeof GetStatusRequestSchema>, options?: CallOptions): Promise<GetStatusResponse> {
    return this.#runner.call(KeyService.method.getStatus, request, "idempotent", "other", options);
  }

  /** RotationService.GetImpact: stored records per key version. */
  async getImpact(request: MessageInitShape<typeof GetImpactRequestSchema>, options?: CallOptions): Promise<GetImpactResponse> {
    return this.#runner.call(RotationService.method.getImpact, request, "idempotent", "other", options);
  }

  /** RotationService.ScheduleRotation: rotates if due, or at once with `force`. Retried only without `force` (then a duplicate finds the key no longer due and changes nothing). */
  async scheduleRotation(request: MessageInitShape<typeof ScheduleRotationRequestSchema>, options?: CallOptions): Promise<ScheduleRotationResponse> {
    return this.#runner.call(RotationService.method.scheduleRotation, request, request.force === true ? "not-idempotent" : "idempotent", "other", options);
  }

  /** RotationService.GetSchedule: last and next rotation per key. */
  async getSchedule(request: MessageInitShape<typeof GetScheduleRequestSchema>, options?: CallOptions): Promise<GetScheduleResponse> {
    return this.#runner.call(RotationService.method.getSchedule, request, "idempotent", "other", options);
  }

  /** RotationService.GetEvent: one rotation event. */
  async getEvent(request: MessageInitShape<typeof GetEventRequestSchema>, options?: CallOptions): Promise<GetEventResponse> {
    return this.#runner.call(RotationService.method.getEvent, request, "idempotent", "other", options);
  }

  /** RotationService.ListEvents: events, newest first. */
  async listEvents(request: MessageInitShape<typeof ListEventsRequestSchema>, options?: CallOptions): Promise<ListEventsResponse> {
    return this.#runner.call(RotationService.method.listEvents, request, "idempotent", "other", options);
  }

  /** RotationService.ExecuteEvent: runs or continues an event's migration now. */
  async executeEvent(request: MessageInitShape<typeof ExecuteEventRequestSchema>, options?: CallOptions): Promise<ExecuteEventResponse> {
    return this.#runner.call(RotationService.method.executeEvent, request, "idempotent", "other", options);
  }

  /** RotationService.RetryEvent: resumes a failed event from its checkpoint. */
  async retryEvent(request: MessageInitShape<typeof RetryEventRequestSchema>, options?: CallOptions): Promise<RetryEventResponse> {
    return this.#runner.call(RotationService.method.retryEvent, request, "idempotent", "other", options);
  }

  /** RotationService.RollbackEvent: rolls an event back. Never retried: it changes which version is primary, so look (GetEvent) before asking again. */
  async rollbackEvent(request: MessageInitShape<typeof RollbackEventRequestSchema>, options?: CallOptions): Promise<RollbackEventResponse> {
    return this.#runner.call(RotationService.method.rollbackEvent, request, "not-idempotent", "other", options);
  }

  /** AdminService.CreateToken: a new API token (its secret is in the answer, once). Never retried: each call creates a token. */
  async createToken(request: MessageInitShape<typeof CreateTokenRequestSchema>, options?: CallOptions): Promise<CreateTokenResponse> {
    return this.#runner.call(AdminService.method.createToken, request, "not-idempotent", "other", options);
  }

  /** AdminService.ListTokens: every token, without secrets. */
  async listTokens(request: MessageInitShape<typeof ListTokensRequestSchema>, options?: CallOptions): Promise<ListTokensResponse> {
    return this.#runner.call(AdminService.method.listTokens, request, "idempotent", "other", options);
  }

  /** AdminService.RevokeToken. */
  async revokeToken(request: MessageInitShape<typeof RevokeTokenRequestSchema>, options?: CallOptions): Promise<RevokeTokenResponse> {
    return this.#runner.call(AdminService.method.revokeToken, request, "idempotent", "other", options);
  }

  /** AdminService.ListAudit: audit records after `afterSeq`. */
  async listAudit(request: MessageInitShape<typeof ListAuditRequestSchema>, options?: CallOptions): Promise<ListAuditResponse> {
    return this.#runner.call(AdminService.method.listAudit, request, "idempotent", "other", options);
  }

  /** AdminService.VerifyAudit: checks the audit hash chain. */
  async verifyAudit(request: MessageInitShape<typeof VerifyAuditRequestSchema>, options?: CallOptions): Promise<VerifyAuditResponse> {
    return this.#runner.call(AdminService.method.verifyAudit, request, "idempotent", "other", options);
  }

  /** AdminService.GetReport: a typed usage or compliance report. */
  async getReport(request: MessageInitShape<typeof GetReportRequestSchema>, options?: CallOptions): Promise<GetReportResponse> {
    return this.#runner.call(AdminService.method.getReport, request, "idempotent", "other", options);
  }

}

/** Largest chunk sent in one request message; a larger one the caller gives is cut. */
export const MAX_REQUEST_CHUNK = 1 << 20;

/**
 * The request messages of a streaming call: `first`'s fields with the first chunk, then one
 * message per chunk (empty chunks skipped, chunks above MAX_REQUEST_CHUNK cut). An empty input
 * still sends `first`, with no chunk.
 */
async function* withFirst<R extends { chunk?: Uint8Array }>(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  first: Omit<R, "chunk">,
): AsyncGenerator<R, void, undefined> {
  let pending: Omit<R, "chunk"> | undefined = first;
  for await (const chunk of chunks) {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError(`a stream chunk must be a Uint8Array, not ${typeof chunk}`);
    }
    for (let at = 0; at < chunk.length; at += MAX_REQUEST_CHUNK) {
      const piece = chunk.subarray(at, at + MAX_REQUEST_CHUNK);
      yield { ...(pending ?? {}), chunk: piece } as R;
      pending = undefined;
    }
  }
  if (pending !== undefined) {
    yield pending as R;
  }
}

function bytes(value: Uint8Array | string | undefined): Uint8Array {
  return value === undefined ? new Uint8Array() : typeof value === "string" ? Buffer.from(value, "utf8") : value;
}
