// Runs a command against a fresh `rekey serve` (the test harness: REKEY_BIN, ports 0, random
// admin token), with REKEY_ADDR and REKEY_TOKEN set for it; exits with the command's status.
// ci.sh runs the example with it:  node build/tools/with-server.js -- node ../../examples/typescript/dist/app.js

import { spawn } from "node:child_process";

import { startServer } from "../test/harness.js";

const separator = process.argv.indexOf("--");
const [command, ...args] = separator === -1 ? [] : process.argv.slice(separator + 1);
if (command === undefined) {
  console.error("usage: with-server.js -- COMMAND [ARGS...]");
  process.exit(2);
}
const server = await startServer();
let status = 1;
try {
  status = await new Promise<number>((done, fail) => {
    const child = spawn(command, args, {
      stdio: "inherit",
      env: { ...process.env, REKEY_ADDR: server.grpc, REKEY_TOKEN: server.adminToken },
    });
    child.on("error", fail);
    child.on("exit", (code, signal) => done(code ?? (signal === null ? 1 : 128)));
  });
} finally {
  await server.stop();
}
process.exitCode = status;
