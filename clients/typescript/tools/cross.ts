// The cross-language live check driver (shared contract): with REKEY_ADDR and REKEY_TOKEN from
// the environment and key TOKEN_ENCRYPTION,
//   node build/tools/cross.js encrypt OUT.json   writes 20 values and 5 stream ciphertexts made
//                                                by this client's Envelope
//   node build/tools/cross.js decrypt IN.json    opens every value and stream of a file made by
//                                                any client (a stream whole, and one byte range)
// The file is shared with the Rust and Python drivers:
//   {"made_by", "key_name", "values": [{"plaintext_hex", "associated_data_hex", "value_hex"}],
//    "streams": [{"plaintext_hex", "associated_data_hex", "segment_size", "value_hex"}]}
// `decrypt` exits 0 when every plaintext matches, else prints which value or stream failed (or
// that the file has no "streams") and exits 1.

import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Readable, type Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { Client, type Envelope, type RangeSource } from "../src/index.js";

const KEY = "TOKEN_ENCRYPTION";

interface CrossFile {
  made_by: string;
  key_name: string;
  values: { plaintext_hex: string; associated_data_hex: string; value_hex: string }[];
  streams?: CrossStream[];
}

interface CrossStream {
  plaintext_hex: string;
  associated_data_hex: string;
  segment_size: number;
  value_hex: string;
}

/** The stream ciphertexts every driver writes: [plaintext length, segment size]. */
const STREAMS: [number, number][] = [
  [0, 256],
  [1, 256],
  [256, 256],
  [1000, 256],
  [200_000, 65_536],
];

/** Pushes `input` through `transform` (an encrypt or decrypt stream) and collects what comes out. */
async function through(transform: Transform, input: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      done();
    },
  });
  await pipeline(Readable.from(input.length > 0 ? [input] : []), transform, sink);
  return Buffer.concat(parts);
}

/** An in-memory range source over `data`. */
function rangeSource(data: Buffer): RangeSource {
  return {
    size: data.length,
    read: async (position, length) => data.subarray(position, position + length),
  };
}

/** Opens one stream whole and the byte range [len/3, len - len/4) of it; the problem, if any. */
async function openStream(envelope: Envelope, stream: CrossStream): Promise<string | undefined> {
  const value = Buffer.from(stream.value_hex, "hex");
  const associatedData = Buffer.from(stream.associated_data_hex, "hex");
  const plaintext = Buffer.from(stream.plaintext_hex, "hex");
  const [start, end] = [Math.floor(plaintext.length / 3), plaintext.length - Math.floor(plaintext.length / 4)];
  let opened: Buffer;
  try {
    opened = await through(envelope.createDecryptStream({ associatedData }), value);
  } catch (e) {
    return `does not open: ${describe(e)}`;
  }
  let range: Buffer;
  try {
    range = await envelope.decryptRange(rangeSource(value), start, end, { associatedData });
  } catch (e) {
    return `bytes ${start}..${end} do not open: ${describe(e)}`;
  }
  if (!opened.equals(plaintext)) {
    return "wrong plaintext";
  }
  if (!range.equals(plaintext.subarray(start, end))) {
    return `bytes ${start}..${end}: wrong plaintext`;
  }
  return undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** 20 inputs: sizes 0, 1, 1024 and 100000 among them, text and binary, with and without AD. */
function inputs(): { plaintext: Buffer; associatedData: Buffer }[] {
  const sizes = [0, 1, 1024, 100_000, 2, 15, 16, 17, 31, 32, 33, 64, 255, 256, 4096, 65_536, 7, 100, 1000, 12_345];
  return sizes.map((size, i) => ({
    plaintext: i % 2 === 0 ? randomBytes(size) : Buffer.alloc(size, `text ${i} `),
    associatedData: i % 3 === 0 ? Buffer.alloc(0) : i % 3 === 1 ? Buffer.from(`row=${i}`) : randomBytes(9),
  }));
}

async function encrypt(client: Client, out: string): Promise<void> {
  const envelope = client.envelope(KEY, { maxAgeMs: 5 * 60_000 });
  const values = [];
  for (const { plaintext, associatedData } of inputs()) {
    const value = await envelope.encrypt(plaintext, associatedData);
    values.push({
      plaintext_hex: plaintext.toString("hex"),
      associated_data_hex: associatedData.toString("hex"),
      value_hex: value.toString("hex"),
    });
  }
  const streams: CrossStream[] = [];
  for (const [i, [size, segmentSize]] of STREAMS.entries()) {
    const plaintext = randomBytes(size);
    const associatedData = Buffer.from(`file=${i}`);
    const value = await through(envelope.createEncryptStream({ associatedData, segmentSize }), plaintext);
    streams.push({
      plaintext_hex: plaintext.toString("hex"),
      associated_data_hex: associatedData.toString("hex"),
      segment_size: segmentSize,
      value_hex: value.toString("hex"),
    });
  }
  envelope.close();
  const file: CrossFile = { made_by: "typescript", key_name: KEY, values, streams };
  writeFileSync(out, `${JSON.stringify(file, null, 1)}\n`);
  console.log(`wrote ${values.length} values and ${streams.length} streams to ${out}`);
}

async function decrypt(client: Client, input: string): Promise<number> {
  const file = JSON.parse(readFileSync(input, "utf8")) as CrossFile;
  const envelope = client.envelope(file.key_name, { maxAgeMs: 5 * 60_000 });
  let failed = 0;
  for (const [i, v] of file.values.entries()) {
    try {
      const opened = await envelope.decrypt(Buffer.from(v.value_hex, "hex"), Buffer.from(v.associated_data_hex, "hex"));
      if (opened.toString("hex") !== v.plaintext_hex) {
        console.error(`value ${i} (made by ${file.made_by}): wrong plaintext`);
        failed++;
      }
    } catch (e) {
      console.error(`value ${i} (made by ${file.made_by}): ${describe(e)}`);
      failed++;
    }
  }
  const streams = Array.isArray(file.streams) ? file.streams : [];
  if (streams.length === 0) {
    console.error(`${input}: no streams`);
    failed++;
  }
  for (const [i, stream] of streams.entries()) {
    const problem = await openStream(envelope, stream);
    if (problem !== undefined) {
      console.error(`stream ${i} (made by ${file.made_by}): ${problem}`);
      failed++;
    }
  }
  envelope.close();
  if (failed === 0) {
    console.log(`opened all ${file.values.length} values and ${streams.length} streams made by ${file.made_by}`);
  }
  return failed === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  const [command, path] = process.argv.slice(2);
  if ((command !== "encrypt" && command !== "decrypt") || path === undefined) {
    console.error("usage: cross.js encrypt OUT.json | decrypt IN.json   (env: REKEY_ADDR, REKEY_TOKEN)");
    return 2;
  }
  const client = Client.fromEnv();
  try {
    if (command === "encrypt") {
      await encrypt(client, path);
      return 0;
    }
    return await decrypt(client, path);
  } finally {
    client.close();
  }
}

process.exitCode = await main().catch((e: unknown) => {
  console.error(describe(e));
  return 1;
});
