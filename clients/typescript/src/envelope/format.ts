// The byte format of Rekey values as far as an envelope client needs it (docs/ciphertext-format.md):
// the common header's checks in the spec's order, and the layouts of a kind-0x03 envelope
// ciphertext and of a kind-0x04 stream ciphertext's header. Every refusal names the spec's variant and carries the spec's message, which
// never contains key bytes, plaintext or the input bytes.

/** The 26 ASCII bytes bound to every wrapped data key: `rekey/v1 envelope data key`. */
export const DATA_KEY_AAD: Buffer = Buffer.from("rekey/v1 envelope data key", "ascii");
/** HKDF info label of a message key (followed by the 16-byte salt). */
export const MESSAGE_KEY_LABEL: Buffer = Buffer.from("rekey/v1 envelope message key", "ascii");
/** HKDF info label of a stream key (followed by the 16-byte salt). */
export const STREAM_KEY_LABEL: Buffer = Buffer.from("rekey/v1 stream segment key", "ascii");

export const KIND_CIPHERTEXT = 0x01;
export const KIND_SIGNATURE = 0x02;
export const KIND_ENVELOPE = 0x03;
export const KIND_STREAM = 0x04;
export const FORMAT_VERSION = 0x01;
export const KEY_LEN = 32;
export const SALT_LEN = 16;
export const NONCE_LEN = 12;
export const TAG_LEN = 16;
/** Smallest, largest and default plaintext bytes per segment of a stream ciphertext. */
export const MIN_SEGMENT_SIZE = 256;
export const MAX_SEGMENT_SIZE = 1_048_576;
export const DEFAULT_SEGMENT_SIZE = 65_536;
const SEGMENT_SIZE_LEN = 4;
const MAX_KEY_NAME_LEN = 64;
const MAX_KEY_VERSION = 0xffff_ffff;

/** A spec variant (`TooShort`, `InvalidWrappedKey`, ...) and its message. */
export class FormatError extends Error {
  constructor(
    readonly variant: string,
    message: string,
  ) {
    super(message);
    this.name = "FormatError";
  }
}

const KIND_NAMES: Record<number, string> = {
  [KIND_CIPHERTEXT]: "an AES-256-GCM ciphertext",
  [KIND_SIGNATURE]: "an HMAC-SHA256 signature",
  [KIND_ENVELOPE]: "an envelope ciphertext",
  [KIND_STREAM]: "a stream ciphertext",
};

/** What a kind byte stands for ("an envelope ciphertext", "a stream ciphertext", ...), as the Rust `Kind` displays it. */
export function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? "an unknown value";
}

const INVALID_KEY_NAME =
  "invalid key name: it must be 1 to 64 characters, each one of A-Z, a-z, 0-9, '_', '.' or '-'";

/** The minimum valid length of a value of `kind` with a key name of `n` bytes. */
function minLen(kind: number, n: number): number {
  switch (kind) {
    case KIND_CIPHERTEXT:
      return 21 + n + TAG_LEN;
    case KIND_SIGNATURE:
      return 9 + n + 32;
    case KIND_STREAM:
      // The stream header and one empty last segment (its tag).
      return streamHeaderLen(n) + TAG_LEN;
    default:
      return 122 + 2 * n;
  }
}

/** The length `H = 98 + 2N` of a stream ciphertext's header under a key name of `n` bytes. */
export function streamHeaderLen(n: number): number {
  return 9 + n + wrappedKeyLen(n) + SALT_LEN + SEGMENT_SIZE_LEN;
}

/** The length of a wrapped data key (a kind-0x01 ciphertext of 32 bytes) under a name of `n` bytes. */
export function wrappedKeyLen(n: number): number {
  return 21 + n + KEY_LEN + TAG_LEN;
}

function isNameByte(b: number): boolean {
  return (
    (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2e || b === 0x2d
  );
}

/** Whether `name` is a valid key name (1-64 bytes of `[A-Za-z0-9_.-]`). */
export function isValidKeyName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_KEY_NAME_LEN) {
    return false;
  }
  for (let i = 0; i < name.length; i++) {
    if (!isNameByte(name.charCodeAt(i))) {
      return false;
    }
  }
  return true;
}

export function checkKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new FormatError("InvalidKeyName", INVALID_KEY_NAME);
  }
}

export function checkKeyVersion(version: number): void {
  if (!Number.isInteger(version) || version < 1 || version > MAX_KEY_VERSION) {
    throw new FormatError("ZeroKeyVersion", `invalid key version ${version}: key versions start at 1`);
  }
}

function tooShort(len: number, need: number): FormatError {
  return new FormatError("TooShort", `ciphertext is truncated: ${len} bytes, a valid one has at least ${need}`);
}

/** The common header of any Rekey value. */
export interface Header {
  kind: number;
  keyName: string;
  keyVersion: number;
}

/** The spec's checks 1-8 on the bytes present, in order. */
export function parseHeader(value: Uint8Array): Header {
  const header = parsePrefix(value);
  const len = value.length;
  const { kind } = header;
  const n = header.keyName.length;
  if (len < minLen(kind, n)) {
    throw tooShort(len, minLen(kind, n));
  }
  if (kind === KIND_SIGNATURE && len > minLen(kind, n)) {
    throw new FormatError("TrailingBytes", `signature has the wrong length: ${len} bytes, expected exactly ${minLen(kind, n)}`);
  }
  return header;
}

/** The spec's checks 1-7 (magic to key version) on the bytes present, in order. */
function parsePrefix(value: Uint8Array): Header {
  const len = value.length;
  if (len === 0) {
    throw new FormatError("Empty", "ciphertext is empty");
  }
  if (value[0] !== 0x52 || (len > 1 && value[1] !== 0x4b)) {
    throw new FormatError("BadMagic", 'not a Rekey ciphertext: it does not start with the bytes "RK"');
  }
  if (len > 2 && value[2] !== FORMAT_VERSION) {
    throw new FormatError(
      "UnsupportedFormatVersion",
      `unsupported ciphertext format version ${value[2]}; this server reads version 1`,
    );
  }
  if (len < 4) {
    throw tooShort(len, 38);
  }
  const kind = value[3]!;
  if (kind !== KIND_CIPHERTEXT && kind !== KIND_SIGNATURE && kind !== KIND_ENVELOPE && kind !== KIND_STREAM) {
    throw new FormatError(
      "UnknownKind",
      `unknown ciphertext kind 0x${kind.toString(16).padStart(2, "0")}; expected 0x01 (AES-256-GCM ciphertext), 0x02 (HMAC-SHA256 signature), 0x03 (envelope ciphertext) or 0x04 (stream ciphertext)`,
    );
  }
  if (len < 5) {
    throw tooShort(len, minLen(kind, 1));
  }
  const n = value[4]!;
  if (n === 0 || n > MAX_KEY_NAME_LEN) {
    throw new FormatError("InvalidKeyName", INVALID_KEY_NAME);
  }
  if (len < 5 + n) {
    throw tooShort(len, minLen(kind, n));
  }
  for (let i = 5; i < 5 + n; i++) {
    if (!isNameByte(value[i]!)) {
      throw new FormatError("InvalidKeyName", INVALID_KEY_NAME);
    }
  }
  if (len < 9 + n) {
    throw tooShort(len, minLen(kind, n));
  }
  const keyVersion = Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32BE(5 + n);
  if (keyVersion === 0) {
    throw new FormatError("ZeroKeyVersion", "invalid key version 0: key versions start at 1");
  }
  const keyName = Buffer.from(value.buffer, value.byteOffset + 5, n).toString("ascii");
  return { kind, keyName, keyVersion };
}

/** The parts of a kind-0x03 envelope ciphertext (views into the value, not copies). */
export interface ParsedEnvelope {
  keyName: string;
  keyVersion: number;
  /** Bytes [0, 5+N): magic, format version, kind, N, key name — bound by the payload AAD. */
  boundPrefix: Buffer;
  wrappedKey: Buffer;
  salt: Buffer;
  nonce: Buffer;
  /** The AES-GCM ciphertext of the plaintext, without the tag. */
  payload: Buffer;
  tag: Buffer;
}

const INVALID_WRAPPED_KEY =
  "envelope ciphertext is malformed: its embedded data key must be a Rekey AES-256-GCM ciphertext (kind 0x01) of a 32-byte key under the key name and key version in the envelope's header";

/** Parses an envelope ciphertext, checking its embedded wrapped key against its header (check 9). */
export function parseEnvelope(value: Uint8Array): ParsedEnvelope {
  const header = parseHeader(value);
  if (header.kind !== KIND_ENVELOPE) {
    throw new FormatError(
      "NotEnvelopeCiphertext",
      `not an envelope ciphertext: found ${kindName(header.kind)}, expected kind 0x03`,
    );
  }
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const n = header.keyName.length;
  const wrappedEnd = 9 + n + wrappedKeyLen(n);
  const saltEnd = wrappedEnd + SALT_LEN;
  const nonceEnd = saltEnd + NONCE_LEN;
  const wrappedKey = embeddedWrappedKey(buf, header);
  return {
    keyName: header.keyName,
    keyVersion: header.keyVersion,
    boundPrefix: buf.subarray(0, 5 + n),
    wrappedKey,
    salt: buf.subarray(wrappedEnd, saltEnd),
    nonce: buf.subarray(saltEnd, nonceEnd),
    payload: buf.subarray(nonceEnd, buf.length - TAG_LEN),
    tag: buf.subarray(buf.length - TAG_LEN),
  };
}

/** Bytes [9+N, 78+2N) of an envelope or stream ciphertext, checked against its header (check 9). */
function embeddedWrappedKey(buf: Buffer, header: Header): Buffer {
  const n = header.keyName.length;
  const wrappedKey = buf.subarray(9 + n, 9 + n + wrappedKeyLen(n));
  let inner: Header;
  try {
    inner = parseHeader(wrappedKey);
  } catch {
    throw new FormatError("InvalidWrappedKey", INVALID_WRAPPED_KEY);
  }
  if (inner.kind !== KIND_CIPHERTEXT || inner.keyName !== header.keyName || inner.keyVersion !== header.keyVersion) {
    throw new FormatError("InvalidWrappedKey", INVALID_WRAPPED_KEY);
  }
  return wrappedKey;
}

/** The header of a kind-0x04 stream ciphertext (views into the value, not copies). */
export interface ParsedStreamHeader {
  keyName: string;
  keyVersion: number;
  /** `H = 98 + 2N`: where the first segment starts. */
  headerLen: number;
  /** Bytes [0, 5+N): magic, format version, kind, N, key name — bound by the segment AAD. */
  boundPrefix: Buffer;
  wrappedKey: Buffer;
  salt: Buffer;
  /** Plaintext bytes per segment `S` (every segment but the last holds exactly `S`). */
  segmentSize: number;
}

/**
 * Parses the header of a stream ciphertext at the start of `value`, which may hold exactly the
 * header or more (segments): a reader parses the header before it has read any segment. The
 * common header's checks 1-7, then `NotStreamCiphertext` for another kind, `TooShort` when
 * `value` ends inside the header (its `need` is the smallest whole stream, `H + 16`),
 * `InvalidWrappedKey`, `InvalidSegmentSize`. Missing segments are the reader's business
 * (AuthenticationFailed: the stream was truncated).
 */
export function parseStreamHeader(value: Uint8Array): ParsedStreamHeader {
  const header = parsePrefix(value);
  if (header.kind !== KIND_STREAM) {
    throw new FormatError(
      "NotStreamCiphertext",
      `not a stream ciphertext: found ${kindName(header.kind)}, expected kind 0x04`,
    );
  }
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const n = header.keyName.length;
  if (buf.length < streamHeaderLen(n)) {
    throw tooShort(buf.length, minLen(KIND_STREAM, n));
  }
  const wrappedKey = embeddedWrappedKey(buf, header);
  const saltEnd = 9 + n + wrappedKey.length + SALT_LEN;
  const segmentSize = buf.readUInt32BE(saltEnd);
  if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE) {
    throw new FormatError(
      "InvalidSegmentSize",
      `stream ciphertext has an invalid segment size of ${segmentSize} bytes; it must be between ${MIN_SEGMENT_SIZE} and ${MAX_SEGMENT_SIZE}`,
    );
  }
  return {
    keyName: header.keyName,
    keyVersion: header.keyVersion,
    headerLen: saltEnd + SEGMENT_SIZE_LEN,
    boundPrefix: buf.subarray(0, 5 + n),
    wrappedKey,
    salt: buf.subarray(saltEnd - SALT_LEN, saltEnd),
    segmentSize,
  };
}

/**
 * Checks that `wrappedKey` is a kind-0x01 ciphertext of a 32-byte key under `keyName` (and
 * `keyVersion` when given), as the Rust DataKey::new does; returns its version.
 */
export function checkWrappedKey(wrappedKey: Uint8Array, keyName: string, keyVersion: number | undefined): number {
  const mismatch = new FormatError(
    "WrappedKeyMismatch",
    "wrapped data key does not fit: it must be a Rekey AES-256-GCM ciphertext (kind 0x01) of a 32-byte key, made by GenerateDataKey or Rewrap under the same key name (and, for a new data key, the same key version)",
  );
  let inner: Header;
  try {
    inner = parseHeader(wrappedKey);
  } catch {
    throw mismatch;
  }
  if (
    inner.kind !== KIND_CIPHERTEXT ||
    inner.keyName !== keyName ||
    (keyVersion !== undefined && inner.keyVersion !== keyVersion) ||
    wrappedKey.length !== wrappedKeyLen(keyName.length)
  ) {
    throw mismatch;
  }
  return inner.keyVersion;
}
