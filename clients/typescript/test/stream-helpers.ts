// Helpers of the stream tests: the server's side of a data key done locally with a key
// version's material (wrap, unwrap, a resolver for the stream reader), and a pipeline that feeds
// a Transform in chunks of given sizes.

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { AuthenticationFailedError, DATA_KEY_AAD, DataKey } from "../src/index.js";
import { streamCipher, type StreamResolver } from "../src/envelope/stream.js";

/** A kind-0x01 ciphertext of `dk` under `material`, as GenerateDataKey returns it. */
export function wrapLocally(material: Buffer, name: string, version: number, dk: Buffer, nonce: Buffer = randomBytes(12)): Buffer {
  const header = Buffer.alloc(21 + name.length);
  header.set([0x52, 0x4b, 0x01, 0x01, name.length], 0);
  header.write(name, 5, "ascii");
  header.writeUInt32BE(version, 5 + name.length);
  nonce.copy(header, 9 + name.length);
  const cipher = createCipheriv("aes-256-gcm", material, nonce);
  cipher.setAAD(Buffer.concat([header, DATA_KEY_AAD]));
  const body = Buffer.concat([cipher.update(dk), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** What the server's Decrypt does with a wrapped data key. */
export function unwrapLocally(wrapped: Buffer, material: Buffer): Buffer {
  const n = wrapped[4]!;
  const decipher = createDecipheriv("aes-256-gcm", material, wrapped.subarray(9 + n, 21 + n));
  decipher.setAAD(Buffer.concat([wrapped.subarray(0, 21 + n), DATA_KEY_AAD]));
  decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
  try {
    return Buffer.concat([decipher.update(wrapped.subarray(21 + n, wrapped.length - 16)), decipher.final()]);
  } catch {
    throw new AuthenticationFailedError("ciphertext failed authentication");
  }
}

/** A resolver that unwraps with the key material, as Envelope does through Decrypt. */
export function localResolver(material: Buffer, ad: Uint8Array): StreamResolver {
  return async (header) => {
    const dk = unwrapLocally(header.wrappedKey, material);
    const key = new DataKey(header.keyName, header.keyVersion, dk, header.wrappedKey);
    dk.fill(0);
    try {
      return streamCipher(key, header, ad);
    } finally {
      key.wipe();
    }
  };
}

/** Feeds `data` in chunks of the given sizes (cycled) through `transform`; resolves to the output. */
export async function through(transform: NodeJS.ReadWriteStream, data: Buffer, sizes: number[] = [data.length || 1]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const size = sizes[i++ % sizes.length]!;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

