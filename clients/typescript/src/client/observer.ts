// A hook for metrics and tests: every rpc attempt and every data-key cache event is reported
// to an Observer given in the client's options. Nothing secret is ever passed to it.

import type { RekeyError } from "./errors.js";

/** A data-key cache event of an {@link Envelope}. */
export type CacheEvent =
  /** An encryption used the cached data key. */
  | "encrypt-hit"
  /** An encryption needed a new data key (one GenerateDataKey call). */
  | "encrypt-miss"
  /** A decryption found its data key already unwrapped. */
  | "decrypt-hit"
  /** A decryption had to unwrap its data key (one Decrypt call). */
  | "decrypt-miss"
  /** An unwrapped data key left a cache (age, size, forget) and was wiped. */
  | "evicted";

/** Receives the client's events; called inline, so keep the methods cheap. */
export interface Observer {
  /** After each attempt of an rpc (`attempt` counts from 1); `error` is undefined on success. */
  onAttempt?(rpc: string, attempt: number, error: RekeyError | undefined): void;
  /** On each data-key cache event of an envelope of key `keyName`. */
  onCache?(keyName: string, event: CacheEvent): void;
}
