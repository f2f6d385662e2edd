// The decrypt side's unwrapped data keys: a small LRU keyed by the wrapped key bytes, with a
// TTL, and one shared promise per wrapped key being unwrapped, so N concurrent decryptions of
// values under one data key make one Decrypt call
// (crates/rekey-client/src/envelope/decrypt_cache.rs). A key leaving the cache is released,
// and wiped once no cache and no decryption holds it.

import type { DataKey } from "./data-key.js";

interface Entry {
  key: DataKey;
  insertedAt: number;
}

/** An unwrapping in flight and how many decryptions wait for it. */
export interface Inflight {
  promise: Promise<DataKey>;
  waiters: number;
}

export class DecryptCache {
  /** Map iteration order is insertion order: re-inserting on use makes the first entry the LRU. */
  readonly #entries = new Map<string, Entry>();
  readonly inflight = new Map<string, Inflight>();

  constructor(
    private readonly capacity: number,
    private readonly ttlMs: number,
  ) {}

  /** The unwrapped key of `wrapped` if cached and fresh, and how many keys expired. */
  get(id: string): { key: DataKey | undefined; expired: number } {
    const entry = this.#entries.get(id);
    if (entry === undefined) {
      return { key: undefined, expired: 0 };
    }
    this.#entries.delete(id);
    if (performance.now() - entry.insertedAt >= this.ttlMs) {
      entry.key.release();
      return { key: undefined, expired: 1 };
    }
    this.#entries.set(id, entry);
    return { key: entry.key, expired: 0 };
  }

  /** Caches `key`; returns how many keys were evicted (expired or least recently used). */
  insert(id: string, key: DataKey): number {
    if (this.capacity === 0) {
      return 0;
    }
    let evicted = this.sweep();
    const existing = this.#entries.get(id);
    if (existing !== undefined) {
      this.#entries.delete(id);
      existing.key.release();
    }
    while (this.#entries.size >= this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) {
        break;
      }
      this.#entries.get(oldest.value)?.key.release();
      this.#entries.delete(oldest.value);
      evicted++;
    }
    this.#entries.set(id, { key: key.retain(), insertedAt: performance.now() });
    return evicted;
  }

  /** Drops every expired key; returns how many. */
  sweep(): number {
    const now = performance.now();
    let n = 0;
    for (const [id, entry] of this.#entries) {
      if (now - entry.insertedAt >= this.ttlMs) {
        this.#entries.delete(id);
        entry.key.release();
        n++;
      }
    }
    return n;
  }

  /** Drops every key; returns how many. */
  clear(): number {
    const n = this.#entries.size;
    for (const entry of this.#entries.values()) {
      entry.key.release();
    }
    this.#entries.clear();
    return n;
  }

  get size(): number {
    return this.#entries.size;
  }
}
