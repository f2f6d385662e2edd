// Local envelope encryption: values sealed on the caller's machine under a data key that the
// server generated and wrapped (docs/ciphertext-format.md, kind 0x03), and streams of any
// length in authenticated segments under such a data key (kind 0x04, stream.ts). One GenerateDataKey
// call serves many encryptions and one Decrypt call many decryptions
// (crates/rekey-client/src/envelope/mod.rs).
//
// What is cached, and the trade-off: plaintext data keys stay in this process's memory for up
// to the policy's limits (wiped when they leave the caches). A process compromised meanwhile
// exposes the values sealed under those keys; revoking the caller's token does not reach keys
// already cached. A short maxAgeMs narrows both windows at the cost of more calls.

import type { FileHandle } from "node:fs/promises";
import type { Transform } from "node:stream";
import { inspect } from "node:util";

import type { Client } from "../client/client.js";
import {
  InternalError,
  InvalidArgumentError,
  InvalidCiphertextError,
  RekeyError,
} from "../client/errors.js";
import type { CacheEvent } from "../client/observer.js";
import { DataKey } from "./data-key.js";
import { DecryptCache } from "./decrypt-cache.js";
import { EncryptCache } from "./encrypt-cache.js";
import {
  DATA_KEY_AAD,
  DEFAULT_SEGMENT_SIZE,
  FormatError,
  isValidKeyName,
  parseEnvelope,
  type ParsedEnvelope,
  type ParsedStreamHeader,
} from "./format.js";
import type { CachePolicy } from "./policy.js";
import {
  beginStream,
  checkSegmentSize,
  DecryptStream,
  decryptRangeWith,
  EncryptStream,
  randomSalt,
  type RangeSource,
  type SegmentCipher,
  streamCipher,
} from "./stream.js";

/** Options of {@link Envelope.createEncryptStream}. */
export interface EncryptStreamOptions {
  /** Bound to every segment; give the same bytes to decrypt (e.g. the object's path). Default empty. */
  associatedData?: Uint8Array | string | undefined;
  /** Plaintext bytes per segment, 256 to 1048576. Default 65536. */
  segmentSize?: number | undefined;
}

/** Options of {@link Envelope.createDecryptStream} and {@link Envelope.decryptRange}. */
export interface DecryptStreamOptions {
  /** The associated data the stream was encrypted with. Default empty. */
  associatedData?: Uint8Array | string | undefined;
}

/** Counters of an Envelope's caches since it was made. */
export interface CacheStats {
  /** Encryptions that used the cached data key. */
  encryptHits: number;
  /** Data keys fetched (GenerateDataKey calls that succeeded). */
  encryptMisses: number;
  /** Decryptions whose data key was already unwrapped (or being unwrapped by another call). */
  decryptHits: number;
  /** Data keys unwrapped (Decrypt calls that succeeded). */
  decryptMisses: number;
  /** Unwrapped data keys dropped from the decrypt cache (age, size, forget). */
  evictions: number;
}

/** Sweeps run at most this often (and at least once per maxAge/TTL), so expired keys are wiped without a call. */
const MIN_SWEEP_MS = 1_000;

/**
 * Encrypts and decrypts locally under cached data keys of one key. Made by
 * `client.envelope(keyName, { maxAgeMs })`. Safe to share: concurrent calls share the caches
 * and the in-flight GenerateDataKey / Decrypt calls.
 */
export class Envelope {
  readonly keyName: string;
  readonly policy: CachePolicy;
  readonly #client: Client;
  readonly #encrypt = new EncryptCache();
  readonly #decrypt: DecryptCache;
  readonly #stats: CacheStats = { encryptHits: 0, encryptMisses: 0, decryptHits: 0, decryptMisses: 0, evictions: 0 };
  readonly #sweeper: NodeJS.Timeout;

  constructor(client: Client, keyName: string, policy: CachePolicy) {
    if (!isValidKeyName(keyName)) {
      throw new InvalidArgumentError(
        "invalid key name: it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, '_', '.' or '-'",
      );
    }
    this.#client = client;
    this.keyName = keyName;
    this.policy = policy;
    this.#decrypt = new DecryptCache(policy.decryptEntries, policy.decryptTtlMs);
    const every = Math.max(MIN_SWEEP_MS, Math.min(policy.maxAgeMs, policy.decryptTtlMs));
    // Unref'd: the sweeper never keeps the process alive.
    this.#sweeper = setInterval(() => this.#sweep(), every).unref();
  }

  /**
   * Seals `plaintext` locally, binding `associatedData` (give the same bytes to decrypt, e.g.
   * the row id the value is stored under). Calls GenerateDataKey only when the cached data key
   * is missing or used up; concurrent callers then share that one call.
   */
  async encrypt(plaintext: Uint8Array | string, associatedData: Uint8Array | string = new Uint8Array()): Promise<Buffer> {
    const data = bytes(plaintext);
    const ad = bytes(associatedData);
    return this.#withEncryptKey(data.length, (key) => key.seal(data, ad));
  }

  /**
   * Opens an envelope value made by any client's Envelope for this key, with the same
   * `associatedData`. Calls Decrypt only to unwrap a data key not in the cache. Returns only
   * authenticated plaintext: InvalidCiphertextError for a value that is not an envelope
   * ciphertext of this key, AuthenticationFailedError for a modified value or different
   * associated data, or the error of Decrypt (VersionRetiredError, PermissionDeniedError, ...).
   */
  async decrypt(value: Uint8Array, associatedData: Uint8Array | string = new Uint8Array()): Promise<Buffer> {
    let parsed: ParsedEnvelope;
    try {
      parsed = parseEnvelope(value);
    } catch (e) {
      throw e instanceof FormatError ? new InvalidCiphertextError(e.message) : e;
    }
    this.#checkKeyName(parsed.keyName);
    const ad = bytes(associatedData);
    return this.#withDecryptKey(parsed.keyName, parsed.wrappedKey, (key) => key.open(parsed, ad));
  }

  /**
   * A Transform that encrypts what is written to it into a stream ciphertext (kind 0x04):
   * plaintext in, the stream header then its segments out, in constant memory (one segment of
   * plaintext buffered). The data key comes from the encrypt cache, counted as one message of 0
   * bytes, on the first data written (or at the end of an empty stream). `segmentSize`
   * (256 to 1048576, default 65536) is checked now: InvalidArgumentError is thrown.
   * Other failures (the GenerateDataKey call) are emitted as the stream's 'error'.
   *
   *     await pipeline(createReadStream("a.csv"), envelope.createEncryptStream(), createWriteStream("a.csv.rk"));
   */
  createEncryptStream(options: EncryptStreamOptions = {}): Transform {
    const segmentSize = checkSegmentSize(options.segmentSize ?? DEFAULT_SEGMENT_SIZE);
    const ad = Buffer.from(bytes(options.associatedData ?? new Uint8Array()));
    return new EncryptStream(segmentSize, () =>
      this.#withEncryptKey(0, (key) => beginStream(key, randomSalt(), segmentSize, ad)),
    );
  }

  /**
   * A Transform that decrypts a stream ciphertext made by any client for this key, with the
   * same `associatedData`: ciphertext in, plaintext out, each segment released once it is
   * authenticated. Its data key is unwrapped through the decrypt cache when the header has
   * arrived. Emits 'error' with InvalidCiphertextError (not a stream ciphertext of this key),
   * AuthenticationFailedError (a segment modified, reordered, duplicated or dropped, the stream
   * truncated or extended, other associated data) or the error of Decrypt. A stream that ends
   * without its last segment errors and never ends cleanly: treat the output as incomplete
   * unless the pipeline finished without error.
   */
  createDecryptStream(options: DecryptStreamOptions = {}): Transform {
    const ad = Buffer.from(bytes(options.associatedData ?? new Uint8Array()));
    return new DecryptStream((header) => this.#streamCipher(header, ad));
  }

  /**
   * Plaintext bytes `[start, end)` of the stream ciphertext in `source` (a FileHandle from
   * node:fs/promises, or `{ size, read(position, length) }`): reads the header and only the
   * segments holding the range. InvalidArgumentError for a range outside the payload
   * (`start > end` or `end` past the plaintext's length); otherwise the errors of
   * createDecryptStream. It authenticates the segments it reads, not the rest of the stream.
   */
  async decryptRange(
    source: RangeSource | FileHandle,
    start: number,
    end: number,
    options: DecryptStreamOptions = {},
  ): Promise<Buffer> {
    const ad = Buffer.from(bytes(options.associatedData ?? new Uint8Array()));
    return decryptRangeWith(source, start, end, (header) => this.#streamCipher(header, ad));
  }

  /** Fetches a data key now if none is usable, so the first encryption does not wait. */
  async warm(): Promise<void> {
    while (!this.#encrypt.isUsable(this.policy)) {
      if (this.#encrypt.refill === undefined) {
        this.#encrypt.refill = this.#refill(undefined);
        (await this.#encrypt.refill).release();
        return;
      }
      await this.#encrypt.refill;
    }
  }

  /** Drops (and wipes) every cached data key, e.g. after a rotation for a suspected compromise. */
  forget(): void {
    this.#encrypt.clear();
    this.#count("evicted", "evictions", this.#decrypt.clear());
  }

  /** Forgets every key and stops the sweep timer; the envelope stays usable (keys are fetched again). */
  close(): void {
    this.forget();
    clearInterval(this.#sweeper);
  }

  /** Cache hits, misses and evictions so far. */
  stats(): CacheStats {
    return { ...this.#stats };
  }

  [inspect.custom](): string {
    return `Envelope { keyName: ${JSON.stringify(this.keyName)}, policy: ${inspect(this.policy)}, stats: ${inspect(this.#stats)}, keys: <redacted> }`;
  }

  toJSON(): { keyName: string; stats: CacheStats } {
    return { keyName: this.keyName, stats: this.stats() };
  }

  /**
   * One GenerateDataKey call (the single flight); the key also goes to the decrypt cache, so
   * this process opens its own values without a Decrypt call. Resolves to the key pinned once
   * for the caller, counted as used by one message of `len` bytes (none for warm()).
   */
  #refill(len: number | undefined): Promise<DataKey> {
    return this.#fetch(len).finally(() => {
      this.#encrypt.refill = undefined;
    });
  }

  async #fetch(len: number | undefined): Promise<DataKey> {
    const response = await this.#client.generateDataKey({ keyName: this.keyName, associatedData: DATA_KEY_AAD });
    let key: DataKey;
    try {
      key = new DataKey(this.keyName, response.keyVersion, response.plaintextKey, response.wrappedKey);
    } catch (e) {
      throw new InternalError(
        `the server's GenerateDataKey answer is not a usable data key: ${e instanceof Error ? e.message : "unknown"}`,
      );
    } finally {
      response.plaintextKey.fill(0);
    }
    key.retain();
    this.#count("encrypt-miss", "encryptMisses", 1);
    this.#encrypt.install(key, len === undefined ? 0 : 1, len ?? 0);
    this.#count("evicted", "evictions", this.#decrypt.insert(key.wrappedKey.toString("latin1"), key));
    return key;
  }

  /**
   * Runs `use` synchronously with a data key for one message of `len` bytes: the cached one,
   * or one fetched by this call (concurrent callers share the fetch). Nothing can evict the
   * key between take() and use().
   */
  async #withEncryptKey<T>(len: number, use: (key: DataKey) => T): Promise<T> {
    for (;;) {
      const key = this.#encrypt.take(this.policy, len);
      if (key !== undefined) {
        this.#count("encrypt-hit", "encryptHits", 1);
        return use(key);
      }
      if (this.#encrypt.refill === undefined) {
        // This call fetches; the key comes back pinned for it and already counts its message.
        this.#encrypt.refill = this.#refill(len);
        const own = await this.#encrypt.refill;
        try {
          return use(own);
        } finally {
          own.release();
        }
      }
      // Another call is fetching: wait for it, then take the new key like everyone else.
      await this.#encrypt.refill;
    }
  }

  /**
   * Runs `use` with the data key of `wrappedKey`: from the decrypt cache, else unwrapped by one
   * Decrypt call shared with every concurrent caller waiting for the same wrapped key.
   */
  async #withDecryptKey<T>(keyName: string, wrappedKey: Buffer, use: (key: DataKey) => T): Promise<T> {
    const id = wrappedKey.toString("latin1");
    const cached = this.#cached(id);
    if (cached !== undefined) {
      return use(cached);
    }
    let inflight = this.#decrypt.inflight.get(id);
    if (inflight === undefined) {
      inflight = { promise: this.#unwrap(id, keyName, wrappedKey), waiters: 1 };
      this.#decrypt.inflight.set(id, inflight);
    } else {
      inflight.waiters++;
      this.#count("decrypt-hit", "decryptHits", 1);
    }
    // The unwrapper retained the key once per waiter before resolving: it cannot be wiped
    // until this caller releases it.
    const key = await inflight.promise;
    try {
      return use(key);
    } finally {
      key.release();
    }
  }

  /** The segment cipher of a stream whose header names this envelope's key. */
  async #streamCipher(header: ParsedStreamHeader, ad: Buffer): Promise<SegmentCipher> {
    this.#checkKeyName(header.keyName);
    return this.#withDecryptKey(header.keyName, header.wrappedKey, (key) => streamCipher(key, header, ad));
  }

  #checkKeyName(keyName: string): void {
    if (keyName !== this.keyName) {
      throw new InvalidCiphertextError(
        `the value was sealed under key ${JSON.stringify(keyName)}; this envelope is for key ${JSON.stringify(this.keyName)}`,
      );
    }
  }

  #cached(id: string): DataKey | undefined {
    const { key, expired } = this.#decrypt.get(id);
    this.#count("evicted", "evictions", expired);
    if (key !== undefined) {
      this.#count("decrypt-hit", "decryptHits", 1);
    }
    return key;
  }

  /** One Decrypt call of an embedded wrapped key, shared by every decryption waiting for it. */
  async #unwrap(id: string, keyName: string, embedded: Buffer): Promise<DataKey> {
    const wrappedKey = Buffer.from(embedded);
    let key: DataKey;
    try {
      const response = await this.#client.decrypt({ ciphertext: wrappedKey, associatedData: DATA_KEY_AAD });
      try {
        key = new DataKey(keyName, response.keyVersion, response.plaintext, wrappedKey);
      } catch {
        throw new InvalidCiphertextError("the value's embedded data key does not unwrap to a data key");
      } finally {
        response.plaintext.fill(0);
      }
    } catch (e) {
      this.#decrypt.inflight.delete(id);
      throw e instanceof RekeyError ? e : new InternalError("unwrapping the data key failed");
    }
    // Synchronously: pin the key for every waiter, publish it, then let the waiters run.
    const inflight = this.#decrypt.inflight.get(id);
    this.#decrypt.inflight.delete(id);
    for (let i = 0; i < (inflight?.waiters ?? 0); i++) {
      key.retain();
    }
    this.#count("decrypt-miss", "decryptMisses", 1);
    this.#count("evicted", "evictions", this.#decrypt.insert(id, key));
    return key;
  }

  #sweep(): void {
    this.#encrypt.sweep(this.policy);
    this.#count("evicted", "evictions", this.#decrypt.sweep());
  }

  #count(event: CacheEvent, counter: keyof CacheStats, n: number): void {
    if (n === 0) {
      return;
    }
    this.#stats[counter] += n;
    const observer = this.#client.observer;
    if (observer?.onCache !== undefined) {
      for (let i = 0; i < n; i++) {
        observer.onCache(this.keyName, event);
      }
    }
  }
}

function bytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? Buffer.from(value, "utf8") : value;
}
