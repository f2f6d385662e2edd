// The client's one closed set of errors, mapped from a gRPC status exactly as the Rust client
// does (crates/rekey-client/src/error.rs): by the `rekey-error-reason` metadata the server
// attaches first, else by the status code, reading the message only to split codes the proto
// documents as shared. Messages are the server's, which never carry key bytes or plaintext.

import { Code, ConnectError } from "@connectrpc/connect";

import { ErrorReasonSchema, type ItemError } from "../gen/rekey/v1/errors_pb.js";

/** What the call sent, which decides how an ambiguous INVALID_ARGUMENT reads. */
export type Input = "value" | "other";

/** Base class of every error the client throws; `message` is the server's (or the client's). */
export abstract class RekeyError extends Error {
  /** The gRPC code name the error came with (`NOT_FOUND`, ...), or `CLIENT` for local errors. */
  readonly code: string;

  constructor(message: string, code = "CLIENT") {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }

  /** Whether waiting and sending the same request again may succeed (for idempotent rpcs). */
  get transient(): boolean {
    return false;
  }
}

/** The key (or the key version a value names) does not exist on this server (NOT_FOUND). */
export class KeyNotFoundError extends RekeyError {}
/** The key version a value names is retired and refuses every operation (FAILED_PRECONDITION). */
export class VersionRetiredError extends RekeyError {}
/** Not a well-formed Rekey value of the expected kind (truncated, not Rekey's, another key's envelope, ...). */
export class InvalidCiphertextError extends RekeyError {}
/** The value was modified, or the associated data differs from the one used to encrypt it. */
export class AuthenticationFailedError extends RekeyError {}
/** The request itself is wrong (INVALID_ARGUMENT): change it, do not retry it unchanged. */
export class InvalidArgumentError extends RekeyError {}
/** Refused in the key's or event's current state (FAILED_PRECONDITION). */
export class FailedPreconditionError extends RekeyError {}
/** Something other than a key (a rotation event, a token) does not exist (NOT_FOUND). */
export class NotFoundError extends RekeyError {}
/** The token is valid but not allowed to do this (PERMISSION_DENIED). */
export class PermissionDeniedError extends RekeyError {}
/** Missing, unknown, expired or revoked token (UNAUTHENTICATED). */
export class UnauthenticatedError extends RekeyError {}
/** Too many failed authentications from this address; `retryAfter` (seconds) when the server gave one. */
export class RateLimitedError extends RekeyError {
  readonly retryAfter: number | undefined;

  constructor(message: string, code: string, retryAfter: number | undefined) {
    super(message, code);
    this.retryAfter = retryAfter;
  }
}
/** The server is unreachable, shutting down, or its database is (UNAVAILABLE), after the retries allowed. */
export class UnavailableError extends RekeyError {
  override get transient(): boolean {
    return true;
  }
}
/** The call's deadline passed (per attempt or overall). */
export class DeadlineExceededError extends RekeyError {
  override get transient(): boolean {
    return true;
  }
}
/** The request is larger than the server accepts (RESOURCE_EXHAUSTED / OUT_OF_RANGE). */
export class TooLargeError extends RekeyError {}
/** A server bug or damaged keystore (INTERNAL and codes the API never documents). Report it. */
export class InternalError extends RekeyError {}
/** The client's own configuration is wrong (address, token file, certificates). */
export class ConfigError extends RekeyError {}
/** The connection failed in a way gRPC reports without a documented status. */
export class TransportError extends RekeyError {}

/** The prefix of the server's authentication-failure message (src/keystore/error.rs). */
const AUTH_FAILED = "ciphertext failed authentication";
/** The marker of the auth limiter's message: "...; retry in N s". */
const RATE_LIMITED = "too many failed authentication attempts";
/** The marker of a retired version (src/keystore/error.rs `VersionRetired`). */
const RETIRED = "is retired and can no longer be used";
/** The metadata entry in which the server names the `rekey.v1.ErrorReason` of every error. */
const REASON_HEADER = "rekey-error-reason";

/** gRPC's upper-case code names, as the wire and the Rust client spell them. */
const CODE_NAMES: Record<Code, string> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

/**
 * Maps any failure of a Connect call to the closed set. `ConnectError.metadata` holds the
 * response headers and trailers together, so the reason is found whether the server answered
 * trailers-only or not.
 */
export function errorFromCall(reason: unknown, input: Input): RekeyError {
  if (reason instanceof RekeyError) {
    return reason;
  }
  const err = ConnectError.from(reason);
  const code = err.code;
  const codeName = CODE_NAMES[code] ?? "UNKNOWN";
  const message = err.rawMessage;
  const metadata = err.metadata;
  const reasonName = metadata.get(REASON_HEADER)?.trim();
  const byReason =
    reasonName === undefined
      ? undefined
      : fromReason(reasonName, message, codeName, () => parseSeconds(metadata.get("retry-after")) ?? retryHint(message));
  return byReason ?? fromCode(code, codeName, message, input);
}

/**
 * Maps the error of one item of a batch rpc (`rekey.v1.ItemError`) exactly as a status with
 * that reason and code: by the reason, else (no reason, or one newer than this client) by the
 * code. `input` is what the item was (a Rekey value for DecryptBatch and RewrapBatch items).
 */
export function errorFromItem(item: ItemError, input: Input): RekeyError {
  const code = item.code as Code;
  const codeName = CODE_NAMES[code] ?? `CODE_${item.code}`;
  const message = item.message;
  // 0 (UNSPECIFIED) is "never sent": a missing reason, so the code decides.
  const reasonName = item.reason === 0 ? undefined : ErrorReasonSchema.value[item.reason]?.name;
  const byReason = reasonName === undefined ? undefined : fromReason(reasonName, message, codeName, () => retryHint(message));
  return byReason ?? fromCode(code, codeName, message, input);
}

function fromReason(reason: string, message: string, code: string, retryAfter: () => number | undefined): RekeyError | undefined {
  switch (reason) {
    case "ERROR_REASON_INVALID_ARGUMENT":
      return new InvalidArgumentError(message, code);
    case "ERROR_REASON_KEY_NOT_FOUND":
    case "ERROR_REASON_VERSION_NOT_FOUND":
      return new KeyNotFoundError(message, code);
    case "ERROR_REASON_VERSION_RETIRED":
      return new VersionRetiredError(message, code);
    case "ERROR_REASON_WRONG_PURPOSE":
    case "ERROR_REASON_ROTATION_REFUSED":
    case "ERROR_REASON_EVENT_STATE":
      return new FailedPreconditionError(message, code);
    case "ERROR_REASON_INVALID_VALUE":
      return new InvalidCiphertextError(message, code);
    case "ERROR_REASON_AUTHENTICATION_FAILED":
      return new AuthenticationFailedError(message, code);
    case "ERROR_REASON_TOO_LARGE":
      return new TooLargeError(message, code);
    case "ERROR_REASON_EVENT_NOT_FOUND":
    case "ERROR_REASON_TOKEN_NOT_FOUND":
      return new NotFoundError(message, code);
    case "ERROR_REASON_UNAUTHENTICATED":
      return new UnauthenticatedError(message, code);
    case "ERROR_REASON_PERMISSION_DENIED":
      return new PermissionDeniedError(message, code);
    case "ERROR_REASON_RATE_LIMITED":
      return new RateLimitedError(message, code, retryAfter());
    case "ERROR_REASON_UNAVAILABLE":
      return new UnavailableError(message, code);
    case "ERROR_REASON_INTERNAL":
    case "ERROR_REASON_UNSPECIFIED":
      return new InternalError(message, code);
    default:
      // A reason newer than this client: the code decides.
      return undefined;
  }
}

/** tonic's message for an expired grpc-timeout, sent with CANCELLED. */
const TIMEOUT_EXPIRED = "Timeout expired";

function fromCode(code: Code, codeName: string, message: string, input: Input): RekeyError {
  switch (code) {
    case Code.NotFound:
      return message.startsWith("key ") || message.startsWith("version ")
        ? new KeyNotFoundError(message, codeName)
        : new NotFoundError(message, codeName);
    case Code.FailedPrecondition:
      return message.includes(RETIRED)
        ? new VersionRetiredError(message, codeName)
        : new FailedPreconditionError(message, codeName);
    case Code.InvalidArgument:
      if (message.startsWith(AUTH_FAILED)) {
        return new AuthenticationFailedError(message, codeName);
      }
      return input === "value"
        ? new InvalidCiphertextError(message, codeName)
        : new InvalidArgumentError(message, codeName);
    case Code.ResourceExhausted:
      return message.includes(RATE_LIMITED)
        ? new RateLimitedError(message, codeName, retryHint(message))
        : new TooLargeError(message, codeName);
    case Code.OutOfRange:
      return new TooLargeError(message, codeName);
    case Code.PermissionDenied:
      return new PermissionDeniedError(message, codeName);
    case Code.Unauthenticated:
      return new UnauthenticatedError(message, codeName);
    case Code.Unavailable:
      return new UnavailableError(message, codeName);
    case Code.DeadlineExceeded:
      return new DeadlineExceededError(message, codeName);
    case Code.Canceled:
      // tonic answers an expired grpc-timeout with CANCELLED "Timeout expired": a deadline,
      // and as retriable as one (as error.rs).
      return message === TIMEOUT_EXPIRED
        ? new DeadlineExceededError(message, codeName)
        : new TransportError(message, codeName);
    case Code.Unknown:
      return new TransportError(message, codeName);
    default:
      return new InternalError(message, codeName);
  }
}

function parseSeconds(text: string | null): number | undefined {
  if (text === null || !/^\s*\d+\s*$/.test(text)) {
    return undefined;
  }
  return Number(text.trim());
}

/** Reads "retry in N s" from the auth limiter's message. */
export function retryHint(message: string): number | undefined {
  const match = /retry in (\d+)(\s|$)/.exec(message);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
