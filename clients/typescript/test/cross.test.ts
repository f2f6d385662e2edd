// The cross-language driver, as the orchestrator calls it: `encrypt` writes 20 values made by
// this client's Envelope, `decrypt` opens them (exit 0) and names a damaged one (exit 1).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { type Server, startServer } from "./harness.js";

const DRIVER = resolve(fileURLToPath(import.meta.url), "..", "..", "tools", "cross.js");
let server: Server;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server.stop();
});

function run(...args: string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [DRIVER, ...args], {
    env: { ...process.env, REKEY_ADDR: server.grpc, REKEY_TOKEN: server.adminToken },
    encoding: "utf8",
  });
  return { status: result.status, out: result.stdout + result.stderr };
}

test("encrypt writes 20 values of the contract's sizes; decrypt opens them and names a damaged one", () => {
  const file = join(server.dir, "cross.json");
  assert.equal(run("encrypt", file).status, 0);
  const made = JSON.parse(readFileSync(file, "utf8")) as {
    made_by: string;
    key_name: string;
    values: { plaintext_hex: string; value_hex: string }[];
  };
  assert.equal(made.made_by, "typescript");
  assert.equal(made.key_name, "TOKEN_ENCRYPTION");
  assert.equal(made.values.length, 20);
  const sizes = made.values.map((v) => v.plaintext_hex.length / 2);
  for (const size of [0, 1, 1024, 100_000]) {
    assert.ok(sizes.includes(size), `size ${size}`);
  }
  const ok = run("decrypt", file);
  assert.equal(ok.status, 0, ok.out);
  const damaged = made.values[5]!;
  damaged.value_hex = `${damaged.value_hex.slice(0, -2)}${damaged.value_hex.endsWith("00") ? "01" : "00"}`;
  writeFileSync(file, JSON.stringify(made));
  const bad = run("decrypt", file);
  assert.equal(bad.status, 1);
  assert.match(bad.out, /value 5 .*AuthenticationFailedError/);
});
