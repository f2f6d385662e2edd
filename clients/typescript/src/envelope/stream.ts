// Stream ciphertexts (docs/ciphertext-format.md, kind 0x04): a payload of any length in segments
// of S plaintext bytes, each sealed with AES-256-GCM under a per-stream key, so a file is
// written and read in constant memory and any segment opens alone (STREAM, as in Tink).
//
//   header H = 98 + 2N bytes: common header (kind 0x04), wrapped data key, salt (16), S (u32 BE)
//   stream key  = HMAC-SHA256(DK, "rekey/v1 stream segment key" || salt || 0x01)
//   nonce_i     = 7 zero bytes || u32 BE i || (0x01 for the last segment, else 0x00)
//   segment AAD = value[0, 5+N) || salt || S (u32 BE) || associated data
//   segment i   = AES-256-GCM(stream key, nonce_i, plaintext_i, segment AAD) || tag (16)
//
// Every segment but the last holds exactly S plaintext bytes; the last holds 1..S (0 only when
// the whole payload is empty). A sequential reader looks one byte ahead to know whether a
// segment is the last, never releases the plaintext of a segment that fails its tag, and
// reports a stream that ends without its last segment as failed, never as ended.
//
// Buffers: the stream key and the plaintext staging buffer of the encryptor are overwritten with
// zeros when the stream ends or fails; each segment's plaintext that is not handed to the
// reader (a failed segment, the unused part of a range read) is overwritten too.

import { createCipheriv, createDecipheriv, randomFillSync } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { Transform, type TransformCallback } from "node:stream";

import {
  AuthenticationFailedError,
  InvalidArgumentError,
  InvalidCiphertextError,
  TooLargeError,
} from "../client/errors.js";
import type { DataKey } from "./data-key.js";
import {
  FORMAT_VERSION,
  FormatError,
  KIND_STREAM,
  MAX_SEGMENT_SIZE,
  MIN_SEGMENT_SIZE,
  type ParsedStreamHeader,
  parseStreamHeader,
  SALT_LEN,
  streamHeaderLen,
  TAG_LEN,
} from "./format.js";

/** The message of every authentication failure of a stream (shared by the three clients). */
export const STREAM_AUTH_FAILED =
  "stream ciphertext failed authentication: a segment was modified, reordered, duplicated or removed, the stream was truncated or extended, or the associated data differs";

/** At most 2^32 segments: the index is a u32 in the nonce. */
const MAX_SEGMENTS = 2 ** 32;
/** The longest stream header (64-byte key name): enough bytes to parse any header. */
const MAX_HEADER_READ = streamHeaderLen(64);

function authFailed(): AuthenticationFailedError {
  return new AuthenticationFailedError(STREAM_AUTH_FAILED);
}

/** Whether `size` is a valid segment size (256 to 1048576 plaintext bytes). */
export function isValidSegmentSize(size: number): boolean {
  return Number.isInteger(size) && size >= MIN_SEGMENT_SIZE && size <= MAX_SEGMENT_SIZE;
}

/** InvalidArgumentError unless `size` is a valid segment size. */
export function checkSegmentSize(size: unknown): number {
  if (typeof size !== "number" || !isValidSegmentSize(size)) {
    throw new InvalidArgumentError(
      `invalid segment size ${String(size)}: it must be an integer between ${MIN_SEGMENT_SIZE} and ${MAX_SEGMENT_SIZE} bytes`,
    );
  }
  return size;
}

// ---------------------------------------------------------------------------------------------
// Layout math.

/** Number of segments of a payload of `plaintextLen` bytes: `max(1, ceil(P / S))`. */
export function segmentCount(plaintextLen: number, segmentSize: number): number {
  return Math.max(1, Math.ceil(plaintextLen / segmentSize));
}

/** Total length `T = H + P + 16·k` of the stream ciphertext of `plaintextLen` bytes. */
export function streamCiphertextLen(headerLen: number, plaintextLen: number, segmentSize: number): number {
  return headerLen + plaintextLen + TAG_LEN * segmentCount(plaintextLen, segmentSize);
}

/** Plaintext bytes of segment `index` of a payload of `plaintextLen` bytes (0 for past the end). */
export function segmentPlaintextLen(index: number, plaintextLen: number, segmentSize: number): number {
  return Math.max(0, Math.min(segmentSize, plaintextLen - index * segmentSize));
}

/** The first and last segment (inclusive) holding plaintext bytes `[start, end)`, `start < end`. */
export function segmentsForRange(start: number, end: number, segmentSize: number): [first: number, last: number] {
  return [Math.floor(start / segmentSize), Math.floor((end - 1) / segmentSize)];
}

/** Where things are in a stream ciphertext of known total length. */
export interface StreamLayout {
  headerLen: number;
  segmentSize: number;
  totalLen: number;
  /** `k = ceil((T - H) / (S + 16))`. */
  segments: number;
  /** `P = T - H - 16·k`. */
  plaintextLen: number;
}

/**
 * The layout of a stream ciphertext of `totalLen` bytes; AuthenticationFailedError when no
 * stream has that length (its last segment would be shorter than a tag: it was truncated).
 */
export function streamLayout(headerLen: number, segmentSize: number, totalLen: number): StreamLayout {
  const body = totalLen - headerLen;
  const segments = Math.ceil(body / (segmentSize + TAG_LEN));
  const lastLen = body - (segments - 1) * (segmentSize + TAG_LEN);
  if (body < TAG_LEN || lastLen < TAG_LEN || segments > MAX_SEGMENTS) {
    throw authFailed();
  }
  return { headerLen, segmentSize, totalLen, segments, plaintextLen: body - TAG_LEN * segments };
}

/** The byte span `[start, end)` of segment `index` (ciphertext and tag) in the stream. */
export function segmentSpan(layout: StreamLayout, index: number): [start: number, end: number] {
  const start = layout.headerLen + index * (layout.segmentSize + TAG_LEN);
  return [start, Math.min(start + layout.segmentSize + TAG_LEN, layout.totalLen)];
}

// ---------------------------------------------------------------------------------------------
// Segment crypto.

/** The 12-byte nonce of segment `index`: seven zero bytes, the u32 BE index, the last flag. */
export function segmentNonce(index: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = last ? 0x01 : 0x00;
  return nonce;
}

/** The AAD shared by every segment: `value[0, 5+N) || salt || S (u32 BE) || associated data`. */
export function segmentAad(boundPrefix: Uint8Array, salt: Uint8Array, segmentSize: number, associatedData: Uint8Array): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32BE(segmentSize);
  return Buffer.concat([boundPrefix, salt, size, associatedData]);
}

/**
 * The stream key and segment AAD of one stream: seals or opens its segments. Owns the key
 * buffer it is given and overwrites it with zeros on `wipe()`.
 */
export class SegmentCipher {
  readonly #key: Buffer;
  readonly #aad: Buffer;
  #wiped = false;

  constructor(streamKey: Buffer, aad: Buffer) {
    this.#key = streamKey;
    this.#aad = aad;
  }

  /** Seals one segment: its ciphertext followed by its tag. */
  seal(index: number, last: boolean, plaintext: Uint8Array): Buffer {
    this.#usable();
    if (index >= MAX_SEGMENTS) {
      throw new TooLargeError(`a stream ciphertext holds at most 2^32 segments`);
    }
    const cipher = createCipheriv("aes-256-gcm", this.#key, segmentNonce(index, last), { authTagLength: TAG_LEN });
    cipher.setAAD(this.#aad);
    const body = cipher.update(plaintext);
    const tail = cipher.final();
    return Buffer.concat([body, tail, cipher.getAuthTag()]);
  }

  /**
   * Opens one segment (ciphertext and tag) as segment `index`, the last one or not.
   * AuthenticationFailedError for any mismatch; the plaintext of a failed segment is wiped,
   * never returned.
   */
  open(index: number, last: boolean, segment: Uint8Array): Buffer {
    this.#usable();
    if (segment.length < TAG_LEN || index >= MAX_SEGMENTS) {
      throw authFailed();
    }
    const decipher = createDecipheriv("aes-256-gcm", this.#key, segmentNonce(index, last), { authTagLength: TAG_LEN });
    decipher.setAAD(this.#aad);
    decipher.setAuthTag(segment.subarray(segment.length - TAG_LEN));
    const plaintext = decipher.update(segment.subarray(0, segment.length - TAG_LEN));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      throw authFailed();
    }
    return plaintext;
  }

  /** Overwrites the stream key with zeros; the cipher is unusable afterwards. */
  wipe(): void {
    this.#key.fill(0);
    this.#wiped = true;
  }

  #usable(): void {
    if (this.#wiped) {
      throw authFailed();
    }
  }
}

/** The header of a new stream and the cipher of its segments. */
export interface StreamStart {
  header: Buffer;
  cipher: SegmentCipher;
}

/** Starts a stream under `key` with this salt (fresh and random for every stream) and segment size. */
export function beginStream(key: DataKey, salt: Uint8Array, segmentSize: number, associatedData: Uint8Array): StreamStart {
  checkSegmentSize(segmentSize);
  const n = key.keyName.length;
  const header = Buffer.allocUnsafe(streamHeaderLen(n));
  header[0] = 0x52;
  header[1] = 0x4b;
  header[2] = FORMAT_VERSION;
  header[3] = KIND_STREAM;
  header[4] = n;
  header.write(key.keyName, 5, "ascii");
  header.writeUInt32BE(key.keyVersion, 5 + n);
  let at = 9 + n;
  at += key.wrappedKey.copy(header, at);
  header.set(salt, at);
  at += SALT_LEN;
  header.writeUInt32BE(segmentSize, at);
  const cipher = new SegmentCipher(key.streamKey(salt), segmentAad(header.subarray(0, 5 + n), salt, segmentSize, associatedData));
  return { header, cipher };
}

/** A fresh random salt of a stream. */
export function randomSalt(): Buffer {
  return randomFillSync(Buffer.allocUnsafe(SALT_LEN));
}

/** The cipher of an existing stream from its parsed header and its (unwrapped) data key. */
export function streamCipher(key: DataKey, header: ParsedStreamHeader, associatedData: Uint8Array): SegmentCipher {
  return new SegmentCipher(
    key.streamKey(header.salt),
    segmentAad(header.boundPrefix, header.salt, header.segmentSize, associatedData),
  );
}

/**
 * The whole stream ciphertext of `plaintext` with the given salt, in memory: for test vectors
 * only (a salt must never be reused; streams are written by `Envelope.createEncryptStream`).
 */
export function sealStreamWith(
  key: DataKey,
  salt: Uint8Array,
  segmentSize: number,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
): Buffer {
  const { header, cipher } = beginStream(key, salt, segmentSize, associatedData);
  try {
    const k = segmentCount(plaintext.length, segmentSize);
    const parts = [header];
    for (let i = 0; i < k; i++) {
      parts.push(cipher.seal(i, i === k - 1, plaintext.subarray(i * segmentSize, (i + 1) * segmentSize)));
    }
    return Buffer.concat(parts);
  } finally {
    cipher.wipe();
  }
}

/** The client's error for anything thrown while reading or writing a stream. */
function streamError(e: unknown): Error {
  if (e instanceof FormatError) {
    return new InvalidCiphertextError(e.message);
  }
  if (e instanceof Error) {
    return e;
  }
  return new InvalidCiphertextError("the stream failed");
}

/** Calls `cb` once `work` settles, with the client's error if it failed. */
function settle(work: Promise<void>, cb: TransformCallback): void {
  work.then(
    () => cb(),
    (e: unknown) => cb(streamError(e)),
  );
}

// ---------------------------------------------------------------------------------------------
// Sequential encryption.

/**
 * Plaintext in, stream ciphertext out. The header and a data key come from `begin`, called on
 * the first data (or at the end for an empty stream). At most one segment of plaintext is
 * buffered: a full segment is sealed once the next byte shows it is not the last.
 */
export class EncryptStream extends Transform {
  readonly #begin: () => Promise<StreamStart>;
  readonly #segmentSize: number;
  #cipher: SegmentCipher | undefined;
  #buffer: Buffer | undefined;
  #filled = 0;
  #index = 0;

  constructor(segmentSize: number, begin: () => Promise<StreamStart>) {
    super();
    this.#segmentSize = checkSegmentSize(segmentSize);
    this.#begin = begin;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    if (this.#cipher !== undefined) {
      try {
        this.#absorb(chunk, this.#cipher);
        cb();
      } catch (e) {
        cb(streamError(e));
      }
      return;
    }
    settle(
      this.#start().then((cipher) => this.#absorb(chunk, cipher)),
      cb,
    );
  }

  override _flush(cb: TransformCallback): void {
    settle(
      this.#start().then((cipher) => {
        const last = this.#buffer === undefined ? Buffer.alloc(0) : this.#buffer.subarray(0, this.#filled);
        this.push(cipher.seal(this.#index, true, last));
        this.#wipe();
      }),
      cb,
    );
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.#wipe();
    cb(error);
  }

  async #start(): Promise<SegmentCipher> {
    if (this.#cipher === undefined) {
      const { header, cipher } = await this.#begin();
      if (this.destroyed) {
        cipher.wipe();
        throw new Error("the stream was destroyed");
      }
      this.#cipher = cipher;
      this.push(header);
    }
    return this.#cipher;
  }

  #absorb(chunk: Buffer, cipher: SegmentCipher): void {
    const size = this.#segmentSize;
    this.#buffer ??= Buffer.alloc(size);
    const buffer = this.#buffer;
    let at = 0;
    while (at < chunk.length) {
      if (this.#filled === size) {
        // More bytes follow, so this full segment is not the last.
        this.push(cipher.seal(this.#index, false, buffer));
        this.#index++;
        this.#filled = 0;
      }
      const n = Math.min(size - this.#filled, chunk.length - at);
      chunk.copy(buffer, this.#filled, at, at + n);
      this.#filled += n;
      at += n;
    }
  }

  #wipe(): void {
    this.#buffer?.fill(0);
    this.#filled = 0;
    this.#cipher?.wipe();
  }
}

// ---------------------------------------------------------------------------------------------
// Sequential decryption.

/** Resolves the cipher of a stream from its parsed header (unwrapping its data key). */
export type StreamResolver = (header: ParsedStreamHeader) => Promise<SegmentCipher>;

/**
 * Stream ciphertext in, plaintext out. Buffers the header (`TooShort` if the input ends inside
 * it; no segment after it is a truncation, AuthenticationFailed), resolves the stream's cipher (one
 * Decrypt through the cache), then takes S + 16 bytes at a time, opening a segment as not the
 * last once one more byte has arrived; at the end the rest is the last segment. A stream that
 * ends without a last segment that opens as the last is an error, never a clean end.
 */
export class DecryptStream extends Transform {
  readonly #resolve: StreamResolver;
  #head: Buffer | undefined = Buffer.alloc(0);
  #cipher: SegmentCipher | undefined;
  #segment: Buffer | undefined;
  #filled = 0;
  #index = 0;

  constructor(resolve: StreamResolver) {
    super();
    this.#resolve = resolve;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, cb: TransformCallback): void {
    if (this.#cipher !== undefined) {
      try {
        this.#absorb(chunk, this.#cipher);
        cb();
      } catch (e) {
        cb(streamError(e));
      }
      return;
    }
    settle(this.#header(chunk, false), cb);
  }

  override _flush(cb: TransformCallback): void {
    const work = this.#cipher === undefined ? this.#header(Buffer.alloc(0), true) : Promise.resolve();
    settle(
      work.then(() => {
        const cipher = this.#cipher;
        if (cipher === undefined || this.#segment === undefined) {
          throw authFailed();
        }
        // The rest is the last segment: it must open as the last one.
        const plaintext = cipher.open(this.#index, true, this.#segment.subarray(0, this.#filled));
        this.#wipe();
        if (plaintext.length > 0) {
          this.push(plaintext);
        }
      }),
      cb,
    );
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.#wipe();
    cb(error);
  }

  /** Gathers the header; once it parses, resolves the cipher and takes the bytes after it. */
  async #header(chunk: Buffer, eof: boolean): Promise<void> {
    const head = this.#head === undefined || this.#head.length === 0 ? chunk : Buffer.concat([this.#head, chunk]);
    let parsed: ParsedStreamHeader;
    try {
      parsed = parseStreamHeader(head);
    } catch (e) {
      if (!eof && e instanceof FormatError && e.variant === "TooShort") {
        this.#head = head === chunk ? Buffer.from(chunk) : head;
        return;
      }
      throw e;
    }
    this.#head = undefined;
    // The header parsed from views into `head`: copy what the resolver keeps.
    const cipher = await this.#resolve({
      ...parsed,
      boundPrefix: Buffer.from(parsed.boundPrefix),
      wrappedKey: Buffer.from(parsed.wrappedKey),
      salt: Buffer.from(parsed.salt),
    });
    if (this.destroyed) {
      cipher.wipe();
      return;
    }
    this.#cipher = cipher;
    this.#segment = Buffer.alloc(parsed.segmentSize + TAG_LEN);
    this.#absorb(head.subarray(parsed.headerLen), cipher);
  }

  #absorb(chunk: Buffer, cipher: SegmentCipher): void {
    const segment = this.#segment;
    if (segment === undefined) {
      throw authFailed();
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.#filled === segment.length) {
        // One more byte follows, so this segment is not the last.
        this.push(cipher.open(this.#index, false, segment));
        this.#index++;
        this.#filled = 0;
      }
      const n = Math.min(segment.length - this.#filled, chunk.length - at);
      chunk.copy(segment, this.#filled, at, at + n);
      this.#filled += n;
      at += n;
    }
  }

  #wipe(): void {
    this.#head = undefined;
    this.#segment?.fill(0);
    this.#filled = 0;
    this.#cipher?.wipe();
  }
}

// ---------------------------------------------------------------------------------------------
// Byte ranges.

/** Random access to a stream ciphertext of known length (a file, an object in a store). */
export interface RangeSource {
  /** Total length of the stream ciphertext in bytes. */
  size: number;
  /** Up to `length` bytes starting at `position` (fewer only at the end of the data). */
  read(position: number, length: number): Promise<Uint8Array>;
}

function isFileHandle(source: RangeSource | FileHandle): source is FileHandle {
  return typeof (source as FileHandle).fd === "number" && typeof (source as FileHandle).stat === "function";
}

async function asRangeSource(source: RangeSource | FileHandle): Promise<RangeSource> {
  if (isFileHandle(source)) {
    const { size } = await source.stat();
    return {
      size,
      async read(position: number, length: number): Promise<Uint8Array> {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await source.read(buffer, 0, length, position);
        return buffer.subarray(0, bytesRead);
      },
    };
  }
  if (source === null || typeof source !== "object" || typeof source.read !== "function") {
    throw new InvalidArgumentError("a range source is a FileHandle or an object { size, read(position, length) }");
  }
  if (!Number.isSafeInteger(source.size) || source.size < 0) {
    throw new InvalidArgumentError("a range source's size must be a non-negative integer");
  }
  return source;
}

/** Exactly `length` bytes at `position`, or fewer if the source ends first. */
async function readFully(source: RangeSource, position: number, length: number): Promise<Uint8Array> {
  const first = await source.read(position, length);
  if (first.length >= length) {
    return first.subarray(0, length);
  }
  const parts: Uint8Array[] = [first];
  let got = first.length;
  while (got < length) {
    const more = await source.read(position + got, length - got);
    if (more.length === 0) {
      break;
    }
    parts.push(more.subarray(0, length - got));
    got += Math.min(more.length, length - got);
  }
  return Buffer.concat(parts, got);
}

/**
 * Plaintext bytes `[start, end)` of the stream ciphertext in `source`: reads the header and
 * only the segments holding the range, opens each (checking the last flag of the final
 * segment only when the range reaches it), and returns exactly the slice. InvalidArgumentError
 * for a range outside the payload; the range read does not detect a truncation it does not
 * reach.
 */
export async function decryptRangeWith(
  source: RangeSource | FileHandle,
  start: number,
  end: number,
  resolve: StreamResolver,
): Promise<Buffer> {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < 0) {
    throw new InvalidArgumentError(`invalid byte range ${start}..${end}: start and end are byte offsets, integers from 0`);
  }
  const src = await asRangeSource(source);
  const head = Buffer.from(await readFully(src, 0, Math.min(src.size, MAX_HEADER_READ)));
  if (head.length < Math.min(src.size, MAX_HEADER_READ)) {
    throw authFailed(); // the source holds fewer bytes than its size says: truncated
  }
  let parsed: ParsedStreamHeader;
  try {
    parsed = parseStreamHeader(head);
  } catch (e) {
    throw streamError(e);
  }
  const layout = streamLayout(parsed.headerLen, parsed.segmentSize, src.size);
  if (start > end || end > layout.plaintextLen) {
    throw new InvalidArgumentError(
      `byte range ${start}..${end} is outside the stream's ${layout.plaintextLen} bytes of plaintext`,
    );
  }
  const out = Buffer.alloc(end - start);
  if (start === end) {
    return out;
  }
  const cipher = await resolve(parsed);
  try {
    const [first, last] = segmentsForRange(start, end, parsed.segmentSize);
    let at = 0;
    for (let i = first; i <= last; i++) {
      const [from, to] = segmentSpan(layout, i);
      const segment = await readFully(src, from, to - from);
      if (segment.length !== to - from) {
        throw authFailed();
      }
      const plaintext = cipher.open(i, i === layout.segments - 1, segment);
      const base = i * parsed.segmentSize;
      const sliceStart = Math.max(start, base) - base;
      const sliceEnd = Math.min(end, base + plaintext.length) - base;
      at += plaintext.copy(out, at, sliceStart, sliceEnd);
      plaintext.fill(0);
    }
    return out;
  } catch (e) {
    out.fill(0);
    throw streamError(e);
  } finally {
    cipher.wipe();
  }
}
