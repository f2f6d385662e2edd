// A retired key version refuses to decrypt, and the client says so with VersionRetiredError.
// The fastest honest path to a retired version: a server whose scheduler runs every second
// (rotation.schedule_cron) and whose TOKEN_ENCRYPTION has grace_period_days = 0 (docs/rotation.md
// "To retire sooner"); encrypt, Rotate, wait for the scheduler to retire the old version.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { Client, proto, RekeyError, VersionRetiredError } from "../src/index.js";

import { KEY, type Server, startServer } from "./harness.js";

const CONFIG = `
[rotation]
schedule_cron = "* * * * * *"

[[keys]]
name = "${KEY}"
purpose = "encrypt_decrypt"
rotation_interval_days = 90
grace_period_days = 0
`;

let server: Server;
let client: Client;

before(async () => {
  server = await startServer(CONFIG);
  client = server.client();
});
after(async () => {
  await server.stop();
});

async function versionState(version: number): Promise<proto.KeyVersionState | undefined> {
  const status = await client.getStatus({ keyName: KEY });
  return status.keys[0]?.versions.find((v) => v.version === version)?.state;
}

test("a value under a retired version → VersionRetiredError, from Decrypt and from the Envelope", async () => {
  const plain = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("old"), associatedData: Buffer.from("a") });
  const envelope = client.envelope(KEY, { maxAgeMs: 60_000 });
  const sealed = await envelope.encrypt(Buffer.from("old envelope"), Buffer.from("b"));
  envelope.close();
  const rotated = await client.rotate({ keyName: KEY, force: true });
  assert.equal(rotated.previousVersion, plain.keyVersion);

  const deadline = performance.now() + 12_000;
  while ((await versionState(plain.keyVersion)) !== proto.KeyVersionState.RETIRED) {
    assert.ok(performance.now() < deadline, `version ${plain.keyVersion} was not retired within 12 s`);
    await sleep(200);
  }

  await assert.rejects(client.decrypt({ ciphertext: plain.ciphertext, associatedData: Buffer.from("a") }), (e: unknown) => {
    assert.ok(e instanceof VersionRetiredError, String(e));
    assert.equal(e.code, "FAILED_PRECONDITION");
    return true;
  });
  // A fresh envelope has to unwrap the old data key through the server, which refuses it.
  const reader = client.envelope(KEY, { maxAgeMs: 60_000 });
  await assert.rejects(reader.decrypt(sealed, Buffer.from("b")), VersionRetiredError);
  reader.close();

  // In a batch, the retired item gets its own VersionRetiredError; the fresh one beside it succeeds.
  const fresh = await client.encrypt({ keyName: KEY, plaintext: Buffer.from("new") });
  const opened = await client.decryptMany([
    { ciphertext: plain.ciphertext, associatedData: Buffer.from("a") },
    { ciphertext: fresh.ciphertext },
  ]);
  assert.ok(opened[0] instanceof VersionRetiredError, String(opened[0]));
  assert.equal(opened[0].code, "FAILED_PRECONDITION");
  assert.ok(!(opened[1] instanceof RekeyError) && Buffer.from(opened[1]!.plaintext).toString() === "new");
  const rewrapped = await client.rewrapMany([{ ciphertext: fresh.ciphertext }, { ciphertext: plain.ciphertext, associatedData: Buffer.from("a") }]);
  assert.ok(!(rewrapped[0] instanceof RekeyError), String(rewrapped[0]));
  assert.ok(rewrapped[1] instanceof VersionRetiredError, String(rewrapped[1]));
});
