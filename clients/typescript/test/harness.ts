// Starts a real `rekey serve` for a test file, as the shared contract says: REKEY_BIN (default
// <repo>/target/debug/rekey), ports 0, a ready file polled until it appears, a random admin
// token, every other REKEY_* variable unset, logs in the temporary folder. No mock anywhere.

import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { Client, type ClientOptions } from "../src/index.js";

/** clients/typescript, whether run from build/test or test. */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO_DIR = resolve(PACKAGE_DIR, "..", "..");
export const KEY = "TOKEN_ENCRYPTION";

export interface Server {
  grpc: string;
  http: string;
  adminToken: string;
  dir: string;
  /** A client of this server with the admin token (and any other options). */
  client(options?: ClientOptions): Client;
  /** Sum of `rekey_rpc_requests_total` samples of `rpc` (e.g. "KeyService/GenerateDataKey"). */
  rpcCount(rpc: string): Promise<number>;
  stop(): Promise<void>;
}

export function rekeyBin(): string {
  const bin = process.env.REKEY_BIN ?? join(REPO_DIR, "target", "debug", "rekey");
  if (!existsSync(bin)) {
    throw new Error(`no rekey binary at ${bin}: set REKEY_BIN`);
  }
  return bin;
}

/** Starts a server; `configToml` is written to a file passed with --config. */
export async function startServer(configToml?: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), "rekey-ts-"));
  const readyFile = join(dir, "ready.json");
  const adminToken = randomBytes(24).toString("hex");
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("REKEY_") && !name.startsWith("KEY_ROTATION") && !name.startsWith("OTEL_")) {
      env[name] = value;
    }
  }
  env.REKEY_ADMIN_TOKEN = adminToken;
  const args = [
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--http-listen",
    "127.0.0.1:0",
    "--data-dir",
    join(dir, "data"),
    "--ready-file",
    readyFile,
  ];
  if (configToml !== undefined) {
    const configFile = join(dir, "rekey.toml");
    writeFileSync(configFile, configToml);
    args.push("--config", configFile);
  }
  const log = openSync(join(dir, "server.log"), "a");
  const child: ChildProcess = spawn(rekeyBin(), args, { env, stdio: ["ignore", log, log] });
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const started = performance.now();
  while (!existsSync(readyFile)) {
    if (exited || performance.now() - started > 30_000) {
      child.kill("SIGKILL");
      const text = readFileSync(join(dir, "server.log"), "utf8");
      throw new Error(`rekey serve did not become ready; its log:\n${text.slice(-4000)}`);
    }
    await sleep(25);
  }
  const ready = JSON.parse(readFileSync(readyFile, "utf8")) as { grpc: string; http: string };
  const clients: Client[] = [];
  return {
    grpc: ready.grpc,
    http: ready.http,
    adminToken,
    dir,
    client(options: ClientOptions = {}): Client {
      const client = new Client({ addr: ready.grpc, token: adminToken, ...options });
      clients.push(client);
      return client;
    },
    async rpcCount(rpc: string): Promise<number> {
      const response = await fetch(`http://${ready.http}/metrics`);
      const text = await response.text();
      let sum = 0;
      for (const line of text.split("\n")) {
        if (line.startsWith("rekey_rpc_requests_total{") && line.includes(`method="rekey.v1.${rpc}"`)) {
          sum += Number(line.slice(line.lastIndexOf(" ") + 1));
        }
      }
      return sum;
    },
    async stop(): Promise<void> {
      for (const client of clients) {
        client.close();
      }
      if (!exited) {
        const gone = new Promise<void>((done) => child.once("exit", () => done()));
        child.kill("SIGTERM");
        // Unref'd, so a prompt exit does not keep the test process waiting for the timer.
        const hard = setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
        await gone;
        clearTimeout(hard);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (address === null || typeof address === "string") {
    throw new Error("no port");
  }
  return address.port;
}

/** The vectors folder of the repository. */
export const VECTORS_DIR = join(REPO_DIR, "tests", "vectors");
