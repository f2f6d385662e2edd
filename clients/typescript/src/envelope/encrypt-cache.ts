// The encrypt side's one current data key and its usage, plus the single flight: while one
// GenerateDataKey is in flight, every other encryption awaits that same promise and then takes
// the new key, so 64 cold concurrent encryptions make one call
// (crates/rekey-client/src/envelope/encrypt_cache.rs).

import type { DataKey } from "./data-key.js";
import type { CachePolicy } from "./policy.js";

interface Current {
  key: DataKey;
  fetchedAt: number;
  messages: number;
  bytes: number;
}

export class EncryptCache {
  #current: Current | undefined;
  /** The fetch in flight, shared by every encryption that found no usable key. */
  refill: Promise<DataKey> | undefined;

  /**
   * The current key, counted as used for one message of `len` bytes, if the policy still
   * allows it; an exhausted or expired key is dropped. The caller must seal synchronously,
   * before any await, so no eviction can wipe the key under it.
   */
  take(policy: CachePolicy, len: number): DataKey | undefined {
    const c = this.#current;
    if (c === undefined) {
      return undefined;
    }
    if (!allows(c, policy, len)) {
      this.clear();
      return undefined;
    }
    c.messages += 1;
    c.bytes += len;
    return c.key;
  }

  /** Whether a current key could seal a message now (nothing is counted). */
  isUsable(policy: CachePolicy): boolean {
    return this.#current !== undefined && allows(this.#current, policy, 0);
  }

  /** Makes `key` current, already used by `messages` messages of `bytes` bytes; the previous one is released. */
  install(key: DataKey, messages: number, bytes: number): void {
    this.clear();
    this.#current = { key: key.retain(), fetchedAt: performance.now(), messages, bytes };
  }

  /** Drops the current key (wiped once the decrypt cache no longer holds it either). */
  clear(): void {
    const c = this.#current;
    this.#current = undefined;
    c?.key.release();
  }

  /** Drops the current key if it is past `maxAgeMs` (the sweep timer's job). */
  sweep(policy: CachePolicy): void {
    if (this.#current !== undefined && performance.now() - this.#current.fetchedAt >= policy.maxAgeMs) {
      this.clear();
    }
  }
}

/** Whether the policy lets `c` seal one more message of `len` bytes. */
function allows(c: Current, policy: CachePolicy, len: number): boolean {
  if (performance.now() - c.fetchedAt >= policy.maxAgeMs) {
    return false;
  }
  // A fresh key always takes its first message, whatever its size.
  if (c.messages === 0) {
    return true;
  }
  if (policy.maxMessages !== undefined && c.messages >= policy.maxMessages) {
    return false;
  }
  return !(policy.maxBytes !== undefined && c.bytes + len > policy.maxBytes);
}
