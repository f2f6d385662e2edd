// One data key: the 32 plaintext bytes from GenerateDataKey (or unwrapped by Decrypt) and their
// wrapped form, sealing and opening envelope ciphertexts (kind 0x03) with node:crypto, and
// deriving the stream keys of stream ciphertexts (kind 0x04, see stream.ts).
// Per message: a random 16-byte salt and 12-byte nonce; message key =
// HKDF-SHA256-Expand(DK, "rekey/v1 envelope message key" || salt, 32), which with L = 32 is one
// HMAC-SHA256(DK, info || 0x01); AES-256-GCM with AAD = value[0, 5+N) || salt || caller's AD.
//
// The key bytes live in one Buffer that is overwritten with zeros once no cache and no
// operation holds the key (a reference count, since JavaScript has no destructors). The
// message key is wiped after each use. What JavaScript cannot promise: copies the engine or
// OpenSSL make internally are out of reach, and the server's answer buffer is wiped as soon as
// it has been copied here.

import { createCipheriv, createDecipheriv, createHmac, randomFillSync } from "node:crypto";
import { inspect } from "node:util";

import { AuthenticationFailedError, InternalError, TooLargeError } from "../client/errors.js";
import {
  checkKeyName,
  checkKeyVersion,
  checkWrappedKey,
  FORMAT_VERSION,
  KEY_LEN,
  KIND_ENVELOPE,
  MESSAGE_KEY_LABEL,
  NONCE_LEN,
  type ParsedEnvelope,
  SALT_LEN,
  STREAM_KEY_LABEL,
  TAG_LEN,
  FormatError,
} from "./format.js";

/** AES-GCM's limit for one message: 2^36 - 32 bytes. */
const MAX_PAYLOAD = 2 ** 36 - 32;
const COUNTER_BYTE = Buffer.from([0x01]);

export class DataKey {
  readonly keyName: string;
  readonly keyVersion: number;
  readonly wrappedKey: Buffer;
  readonly #key: Buffer;
  #holders = 0;
  #wiped = false;

  /**
   * Checks and copies `plaintextKey` (32 bytes) and takes `wrappedKey`, which must be a kind-0x01
   * ciphertext of 32 bytes under `keyName` and `keyVersion`. Throws FormatError otherwise.
   */
  constructor(keyName: string, keyVersion: number, plaintextKey: Uint8Array, wrappedKey: Uint8Array) {
    checkKeyName(keyName);
    checkKeyVersion(keyVersion);
    if (plaintextKey.length !== KEY_LEN) {
      throw new FormatError("InvalidKeyLength", `a data key has 32 bytes, not ${plaintextKey.length}`);
    }
    checkWrappedKey(wrappedKey, keyName, keyVersion);
    this.keyName = keyName;
    this.keyVersion = keyVersion;
    this.#key = Buffer.alloc(KEY_LEN);
    this.#key.set(plaintextKey);
    this.wrappedKey = Buffer.from(wrappedKey);
  }

  /** Whether the key bytes were overwritten (the key is unusable). */
  get wiped(): boolean {
    return this.#wiped;
  }

  /** One more cache or operation holds the key. */
  retain(): this {
    this.#holders++;
    return this;
  }

  /** A holder is done; the last one out wipes the key. */
  release(): void {
    this.#holders--;
    if (this.#holders <= 0) {
      this.wipe();
    }
  }

  /** Overwrites the key bytes now. */
  wipe(): void {
    this.#key.fill(0);
    this.#wiped = true;
  }

  /** The length of the envelope ciphertext of a plaintext of `len` bytes. */
  sealedLen(len: number): number {
    return 5 + this.keyName.length + 4 + this.wrappedKey.length + SALT_LEN + NONCE_LEN + len + TAG_LEN;
  }

  /** Seals `plaintext` with a fresh random salt and nonce. */
  seal(plaintext: Uint8Array, associatedData: Uint8Array): Buffer {
    const saltAndNonce = randomFillSync(Buffer.allocUnsafe(SALT_LEN + NONCE_LEN));
    return this.sealWith(saltAndNonce.subarray(0, SALT_LEN), saltAndNonce.subarray(SALT_LEN), plaintext, associatedData);
  }

  /** Seals with the given salt and nonce: for `seal` and for test vectors only (never reuse them). */
  sealWith(salt: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Buffer {
    this.#usable();
    if (plaintext.length > MAX_PAYLOAD) {
      throw new TooLargeError(
        `plaintext of ${plaintext.length} bytes is beyond AES-GCM's limit for one message`,
      );
    }
    const n = this.keyName.length;
    const out = Buffer.allocUnsafe(this.sealedLen(plaintext.length));
    out[0] = 0x52;
    out[1] = 0x4b;
    out[2] = FORMAT_VERSION;
    out[3] = KIND_ENVELOPE;
    out[4] = n;
    out.write(this.keyName, 5, "ascii");
    out.writeUInt32BE(this.keyVersion, 5 + n);
    let at = 9 + n;
    at += this.wrappedKey.copy(out, at);
    out.set(salt, at);
    at += SALT_LEN;
    out.set(nonce, at);
    at += NONCE_LEN;
    const messageKey = this.#messageKey(salt);
    try {
      const cipher = createCipheriv("aes-256-gcm", messageKey, nonce, { authTagLength: TAG_LEN });
      cipher.setAAD(Buffer.concat([out.subarray(0, 5 + n), salt, associatedData]));
      at += cipher.update(plaintext).copy(out, at);
      at += cipher.final().copy(out, at);
      cipher.getAuthTag().copy(out, at);
    } finally {
      messageKey.fill(0);
    }
    return out;
  }

  /**
   * Opens a parsed envelope value sealed under this data key; AuthenticationFailedError for a
   * modified value or different associated data. Returns only authenticated plaintext.
   */
  open(parsed: ParsedEnvelope, associatedData: Uint8Array): Buffer {
    this.#usable();
    const messageKey = this.#messageKey(parsed.salt);
    try {
      const decipher = createDecipheriv("aes-256-gcm", messageKey, parsed.nonce, { authTagLength: TAG_LEN });
      decipher.setAAD(Buffer.concat([parsed.boundPrefix, parsed.salt, associatedData]));
      decipher.setAuthTag(parsed.tag);
      const head = decipher.update(parsed.payload);
      let tail: Buffer;
      try {
        tail = decipher.final();
      } catch {
        // Fail closed: the unauthenticated output is wiped, never returned.
        head.fill(0);
        throw new AuthenticationFailedError(
          "envelope ciphertext failed authentication: it was modified, or the associated data differs from the one used to encrypt it",
        );
      }
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } finally {
      messageKey.fill(0);
    }
  }

  /**
   * The stream key of a stream ciphertext with this `salt` (kind 0x04):
   * HKDF-SHA256-Expand(DK, "rekey/v1 stream segment key" || salt, 32), one HMAC. The caller
   * owns the returned buffer and must overwrite it with zeros when the stream is done.
   */
  streamKey(salt: Uint8Array): Buffer {
    this.#usable();
    if (salt.length !== SALT_LEN) {
      throw new InternalError(`a stream salt has ${SALT_LEN} bytes, not ${salt.length}`);
    }
    return createHmac("sha256", this.#key).update(STREAM_KEY_LABEL).update(salt).update(COUNTER_BYTE).digest();
  }

  #messageKey(salt: Uint8Array): Buffer {
    return createHmac("sha256", this.#key).update(MESSAGE_KEY_LABEL).update(salt).update(COUNTER_BYTE).digest();
  }

  #usable(): void {
    if (this.#wiped) {
      // A bug in the caches, never a state a caller can reach: refuse rather than seal with zeros.
      throw new InternalError("a wiped data key was used; this is a bug in @rekey/client");
    }
  }

  [inspect.custom](): string {
    return `DataKey { keyName: ${JSON.stringify(this.keyName)}, keyVersion: ${this.keyVersion}, key: <redacted> }`;
  }

  toJSON(): { keyName: string; keyVersion: number } {
    return { keyName: this.keyName, keyVersion: this.keyVersion };
  }
}
