// @rekey/client: the TypeScript client of Rekey. See README.md for a guided tour.
//
// - Client: every rpc of KeyService, RotationService and AdminService as a typed method, with
//   the bearer token on every call, a timeout per attempt and a deadline per call, and retries
//   with exponential backoff and full jitter for the rpcs the proto calls safe to retry; the
//   streaming rpcs (encryptStream, decryptStream) take and yield byte streams, never retried.
// - RekeyError and its subclasses: the closed set of what can go wrong.
// - Envelope: local envelope encryption with a cached data key, and stream ciphertexts (files
//   and streams of any length, in segments: createEncryptStream, createDecryptStream, decryptRange).
// Secrets (token, data keys, plaintext) never appear in inspect/JSON output, errors or
// observer events.

export { Client } from "./client/client.js";
export type { CallOptions } from "./client/call.js";
export {
  DEFAULT_ADDR,
  DEFAULT_BATCH_MAX_BYTES,
  DEFAULT_BATCH_MAX_ITEMS,
  optionsFromEnv,
  type ClientOptions,
} from "./client/config.js";
export {
  AuthenticationFailedError,
  ConfigError,
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  InvalidCiphertextError,
  KeyNotFoundError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  RekeyError,
  TooLargeError,
  TransportError,
  UnauthenticatedError,
  UnavailableError,
  VersionRetiredError,
} from "./client/errors.js";
export type { CacheEvent, Observer } from "./client/observer.js";
export { DEFAULT_RETRY_POLICY, NO_RETRIES, type RetryPolicy } from "./client/retry.js";
export { CachePolicy, type CachePolicyOptions } from "./envelope/policy.js";
export {
  Envelope,
  type CacheStats,
  type DecryptStreamOptions,
  type EncryptStreamOptions,
} from "./envelope/envelope.js";
export { DataKey } from "./envelope/data-key.js";
export {
  DATA_KEY_AAD,
  DEFAULT_SEGMENT_SIZE,
  FormatError,
  kindName,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  parseEnvelope,
  parseHeader,
  parseStreamHeader,
  streamHeaderLen,
  type Header,
  type ParsedEnvelope,
  type ParsedStreamHeader,
} from "./envelope/format.js";
export { STREAM_AUTH_FAILED, type RangeSource } from "./envelope/stream.js";
/** The generated rekey.v1 messages, enums and service descriptors (Protobuf-ES v2). */
export * as proto from "./proto.js";
