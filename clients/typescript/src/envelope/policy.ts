// How long and how much one cached data key may be used, and how many unwrapped data keys the
// decrypt side keeps (crates/rekey-client/src/envelope/policy.rs).

import { inspect } from "node:util";

import { InvalidArgumentError } from "../client/errors.js";

/** The fields of a {@link CachePolicy}; only `maxAgeMs` is required. */
export interface CachePolicyOptions {
  /** Longest a data key is used, ms. Required: a key never replaced would outlive every rotation. */
  maxAgeMs: number;
  /** At most this many values sealed under one data key (at least 1). */
  maxMessages?: number;
  /** At most this many plaintext bytes sealed under one data key (a single larger message still gets a key of its own). */
  maxBytes?: number;
  /** How many unwrapped data keys the decrypt side keeps (0: none). Default 1000. */
  decryptEntries?: number;
  /** How long an unwrapped data key is kept after it was unwrapped, ms. Default `maxAgeMs`. */
  decryptTtlMs?: number;
}

/**
 * Limits of an Envelope's data-key caches.
 *
 * Encrypt side: one data key is reused until it is `maxAgeMs` old, or has sealed `maxMessages`
 * values, or `maxBytes` of plaintext, whichever comes first; then the next encryption fetches
 * a new one (one GenerateDataKey call). Every value still gets its own HKDF-derived key and
 * nonce, so these limits bound exposure, not AES-GCM's nonce budget.
 *
 * Decrypt side: up to `decryptEntries` unwrapped data keys, each kept `decryptTtlMs` after it
 * was unwrapped (least recently used first out when full).
 */
export class CachePolicy {
  readonly maxAgeMs: number;
  readonly maxMessages: number | undefined;
  readonly maxBytes: number | undefined;
  readonly decryptEntries: number;
  readonly decryptTtlMs: number;

  constructor(options: CachePolicyOptions) {
    this.maxAgeMs = nonNegative(options.maxAgeMs, "maxAgeMs");
    this.maxMessages = options.maxMessages === undefined ? undefined : Math.max(1, integer(options.maxMessages, "maxMessages"));
    this.maxBytes = options.maxBytes === undefined ? undefined : integer(options.maxBytes, "maxBytes");
    this.decryptEntries = options.decryptEntries === undefined ? 1_000 : integer(options.decryptEntries, "decryptEntries");
    this.decryptTtlMs = options.decryptTtlMs === undefined ? this.maxAgeMs : nonNegative(options.decryptTtlMs, "decryptTtlMs");
    Object.freeze(this);
  }

  [inspect.custom](): string {
    return `CachePolicy ${inspect({ ...this })}`;
  }
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`CachePolicy.${name} must be a non-negative finite number`);
  }
  return value;
}

function integer(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`CachePolicy.${name} must be a non-negative integer`);
  }
  return value;
}
