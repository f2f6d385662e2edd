// 200 MiB through a stream encryptor and decryptor in one pipeline() against a real
// `rekey serve`, in constant memory: the payload is generated on the fly and hashed at both
// ends, never held, and the process's resident set may not grow by more than half of 64 MiB
// while it runs (it grows by about 10 MiB).
//
// The sink runs a full garbage collection every 2 MiB: V8 collects dead Buffers only once
// about 64 MB of them have piled up outside its heap, so without it the resident set of any
// streaming code (a bare PassThrough included) swings by 40-60 MiB whatever it retains. With
// it, the growth measured is what the pipeline keeps alive (plus the allocator's slack): a
// stream that buffered its input would grow by hundreds of MiB.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

import type { Client } from "../src/index.js";

import { KEY, type Server, startServer } from "./harness.js";

let server: Server;
let client: Client;

before(async () => {
  server = await startServer();
  client = server.client();
});
after(async () => {
  await server.stop();
});

const TOTAL = 200 * 1024 * 1024;
const CHUNK = 64 * 1024;
const LIMIT = 32 * 1024 * 1024;
/** A full collection every this many plaintext chunks at the sink (2 MiB). */
const GC_EVERY = 32;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

test("a 200 MiB stream round-trips through pipeline() with bounded memory", async (t) => {
  const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
  await envelope.warm();
  const sent = createHash("sha256");
  const received = createHash("sha256");
  let receivedBytes = 0;
  let ciphertextBytes = 0;

  // A generator of distinct chunks (a counter stamped into a pattern), hashed as they go out.
  async function* payload(): AsyncGenerator<Buffer> {
    for (let at = 0, i = 0; at < TOTAL; at += CHUNK, i++) {
      const chunk = Buffer.alloc(Math.min(CHUNK, TOTAL - at), i & 0xff);
      chunk.writeUInt32BE(i, 0);
      sent.update(chunk);
      yield chunk;
    }
  }
  const countCiphertext = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      ciphertextBytes += chunk.length;
      done(null, chunk);
    },
  });

  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let chunks = 0;
  const started = performance.now();
  // Sampled in the sink: the pipeline runs on microtasks, so a timer would hardly ever fire.
  await pipeline(
    Readable.from(payload()),
    envelope.createEncryptStream({ associatedData: "big" }),
    countCiphertext,
    envelope.createDecryptStream({ associatedData: "big" }),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        received.update(chunk);
        receivedBytes += chunk.length;
        chunks++;
        if (chunks % GC_EVERY === 0) {
          gc();
        }
        if (chunks % 8 === 0) {
          peak = Math.max(peak, process.memoryUsage().rss);
        }
        done();
      },
    }),
  );
  peak = Math.max(peak, process.memoryUsage().rss);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(receivedBytes, TOTAL);
  assert.equal(received.digest("hex"), sent.digest("hex"));
  assert.equal(ciphertextBytes, 98 + 2 * KEY.length + TOTAL + 16 * (TOTAL / 65_536));
  const growth = peak - baseline;
  t.diagnostic(`200 MiB in ${seconds.toFixed(1)} s; resident set grew by ${(growth / 1024 / 1024).toFixed(1)} MiB`);
  assert.ok(growth < LIMIT, `resident set grew by ${growth} bytes`);
  envelope.close();
});
