// Local envelope encryption of 1 KiB (warm cache, long maxAge) against the same client's plain
// Encrypt rpc of 1 KiB, sequential and with 32 calls in flight, in one run against one server
// it starts (REKEY_BIN). Prints calls/s of each, the ratios, and a JSON line. Not run by ci.sh.
//   npm run bench            (BENCH_SECONDS=3 per measurement by default)

import { randomBytes } from "node:crypto";

import { startServer } from "../test/harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? "3");
const CONCURRENCY = 32;
const KEY = "TOKEN_ENCRYPTION";

/** Runs `op` in `lanes` concurrent loops for SECONDS; returns completed operations per second. */
async function rate(lanes: number, op: () => Promise<unknown>): Promise<number> {
  // Warm-up: connection, JIT, caches.
  for (let i = 0; i < 50; i++) {
    await op();
  }
  let done = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < end) {
        await op();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const server = await startServer();
try {
  const client = server.client();
  const envelope = client.envelope(KEY, { maxAgeMs: 60 * 60 * 1000 });
  await envelope.warm();
  const plaintext = randomBytes(1024);
  const ad = Buffer.from("row=1");

  const envelopeRate = await rate(1, () => envelope.encrypt(plaintext, ad));
  const rpcSequential = await rate(1, () => client.encrypt({ keyName: KEY, plaintext, associatedData: ad }));
  const rpcConcurrent = await rate(CONCURRENCY, () => client.encrypt({ keyName: KEY, plaintext, associatedData: ad }));
  const generateCalls = await server.rpcCount("KeyService/GenerateDataKey");

  const fmt = (n: number): string => n.toFixed(0).padStart(9);
  console.log(`envelope.encrypt 1 KiB (local, warm cache)      ${fmt(envelopeRate)} calls/s`);
  console.log(`Encrypt rpc 1 KiB, sequential                   ${fmt(rpcSequential)} calls/s`);
  console.log(`Encrypt rpc 1 KiB, ${CONCURRENCY} in flight                  ${fmt(rpcConcurrent)} calls/s`);
  console.log(`ratio envelope / rpc sequential                 ${(envelopeRate / rpcSequential).toFixed(1).padStart(9)} x`);
  console.log(`ratio envelope / rpc ${CONCURRENCY} in flight                ${(envelopeRate / rpcConcurrent).toFixed(1).padStart(9)} x`);
  console.log(`GenerateDataKey calls during the run: ${generateCalls}`);
  console.log(
    JSON.stringify({
      bench: "typescript-envelope-vs-encrypt-rpc",
      node: process.version,
      seconds_per_measurement: SECONDS,
      plaintext_bytes: 1024,
      envelope_encrypt_per_s: Math.round(envelopeRate),
      rpc_encrypt_sequential_per_s: Math.round(rpcSequential),
      rpc_encrypt_concurrent_per_s: Math.round(rpcConcurrent),
      rpc_concurrency: CONCURRENCY,
      ratio_vs_sequential: Number((envelopeRate / rpcSequential).toFixed(1)),
      ratio_vs_concurrent: Number((envelopeRate / rpcConcurrent).toFixed(1)),
      generate_data_key_calls: generateCalls,
    }),
  );
  envelope.close();
} finally {
  await server.stop();
}
