// When a failed attempt is tried again, and after how long: exponential backoff with full
// jitter (a uniformly random wait up to the exponential bound, so clients that failed together
// do not come back together), only for rpcs the proto calls safe to retry. Mirrors
// crates/rekey-client/src/retry.rs.

import { randomInt } from "node:crypto";

import { RateLimitedError, type RekeyError } from "./errors.js";

/** Whether sending the same request twice can change more than sending it once. */
export type Idempotency = "idempotent" | "not-idempotent";

/**
 * How often and how patiently to retry transient failures (UNAVAILABLE, DEADLINE_EXCEEDED) of
 * idempotent rpcs. All attempts stay within the call's overall deadline.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. Default 4. */
  readonly maxAttempts: number;
  /** Upper bound of the wait before the first retry, in ms; doubles per retry. Default 50. */
  readonly initialBackoffMs: number;
  /** Cap of the upper bound, in ms. Default 2000. */
  readonly maxBackoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 50,
  maxBackoffMs: 2_000,
});

/** No retries at all. */
export const NO_RETRIES: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, maxAttempts: 1 });

/** The bound of the wait after failed attempt number `attempt` (1-based), in ms. */
export function backoffBound(policy: RetryPolicy, attempt: number): number {
  const doublings = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(policy.initialBackoffMs * 2 ** doublings, policy.maxBackoffMs);
}

/** The wait after failed attempt `attempt`: uniform in [0, bound] (full jitter), in ms. */
export function backoff(policy: RetryPolicy, attempt: number): number {
  const bound = backoffBound(policy, attempt);
  // 2^48 - 1 is randomInt's largest range; plenty of resolution for a wait.
  return (randomInt(0, 2 ** 48 - 1) / (2 ** 48 - 2)) * bound;
}

/**
 * Whether to try again after `error` on attempt `attempt`, and after how many ms: `undefined`
 * to give up. `remainingMs` is what is left of the overall deadline.
 */
export function nextWait(
  policy: RetryPolicy,
  error: RekeyError,
  idempotency: Idempotency,
  attempt: number,
  remainingMs: number,
): number | undefined {
  if (attempt >= policy.maxAttempts) {
    return undefined;
  }
  let wait: number;
  if (error instanceof RateLimitedError && error.retryAfter !== undefined) {
    // The auth limiter refuses before the rpc runs, so nothing was done and any rpc may be
    // sent again once the window is over, if the deadline allows.
    wait = error.retryAfter * 1_000;
  } else if (error.transient && idempotency === "idempotent") {
    wait = backoff(policy, attempt);
  } else {
    return undefined;
  }
  return wait < remainingMs ? wait : undefined;
}
