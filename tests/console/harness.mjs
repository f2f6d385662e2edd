// The console suite's harness: a real `rekey serve` (free loopback ports, a fresh data
// directory, a random admin token, rotation schedule off) with an application database of its
// own — a SQLite file declared as migration targets in the server's config — and Debian's
// headless Chromium driven by playwright-core. Never a mock: what a test sees is what the
// server and the console answer.
//
// The binary is $REKEY_BIN, else <repo>/target/debug/rekey; Chromium is $CHROMIUM, else
// /usr/bin/chromium. A missing one fails the run, never skips it.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REKEY_BIN = resolve(process.env.REKEY_BIN || join(REPO_ROOT, 'target', 'debug', 'rekey'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** The runbook's five keys, built into every server. */
export const RUNBOOK_KEYS = [
  'TOKEN_ENCRYPTION',
  'DATABASE_ENCRYPTION',
  'FILE_ENCRYPTION',
  'SESSION_ENCRYPTION',
  'API_SIGNATURE',
];

/**
 * The application database's two migration targets:
 * - `users.oauth_token` (TOKEN_ENCRYPTION): rotated from the Keys page; paced at `rate_limit`
 *   records/s in small batches so that the console shows the migration under way;
 * - `orders.card` (DATABASE_ENCRYPTION): its table is renamed away to make a migration fail,
 *   then restored for the retry.
 * Both store Transit values (`vault:v1:<base64>`) in base64 text columns.
 */
export const TARGETS = {
  users: { name: 'users.oauth_token', table: 'users', column: 'oauth_token', key: 'TOKEN_ENCRYPTION', rows: 300, batchSize: 20, rateLimit: 60 },
  orders: { name: 'orders.card', table: 'orders', column: 'card', key: 'DATABASE_ENCRYPTION', rows: 100, batchSize: 25, rateLimit: null },
};

// Settings of the parent's environment that would change the child server (REKEY_CONFIG, a
// database URL, rotation switches, an OTLP endpoint): the test decides them, not the shell.
const CHILD_ENV_PREFIXES = ['REKEY_', 'KEY_ROTATION_', 'OTEL_', 'VAULT_'];

function cleanEnv() {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !CHILD_ENV_PREFIXES.some((p) => k.startsWith(p))),
  );
}

// Runs statements on a SQLite file with Python's sqlite3 (Node 20 has no SQLite of its own):
// a JSON array of [sql, params] on stdin, executed in one transaction; prints the rows of the
// last statement as JSON.
const SQLITE_PY = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
rows = []
with db:
    for sql, params in json.load(sys.stdin):
        rows = db.execute(sql, params).fetchall()
db.close()
print(json.dumps(rows))
`;

/** Runs `[sql, params]` statements on the SQLite file `path` in one transaction; the last one's rows. */
export function sqlite(path, statements) {
  const done = spawnSync('python3', ['-c', SQLITE_PY, path], {
    input: JSON.stringify(statements),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (done.error) throw new Error(`python3 (for sqlite3) could not run: ${done.error.message}`);
  if (done.status !== 0) throw new Error(`sqlite3 via python3 exited ${done.status}: ${done.stderr}`);
  return JSON.parse(done.stdout);
}

function targetToml(dbPath, t) {
  return [
    '[[targets]]',
    `name = "${t.name}"`,
    `database_url = "sqlite://${dbPath}"`,
    `table = "${t.table}"`,
    'primary_key = "id"',
    `column = "${t.column}"`,
    'encoding = "base64"',
    `key = "${t.key}"`,
    `batch_size = ${t.batchSize}`,
    ...(t.rateLimit ? [`rate_limit = ${t.rateLimit}`] : []),
    '',
  ].join('\n');
}

/** A running `rekey serve` with its application database. */
export class Server {
  constructor({ process, workdir, adminToken, grpc, http, appDb }) {
    this.process = process;
    this.workdir = workdir;
    this.adminToken = adminToken;
    this.grpc = grpc;
    this.http = http;
    this.appDb = appDb;
    /** Plaintexts this harness encrypted, for the secrets checks. */
    this.plaintexts = [];
    /** Other secrets a test made (client tokens, data keys), for the same checks. */
    this.extraSecrets = [];
  }

  /** The console's address. */
  get url() {
    return `http://${this.http}`;
  }

  get uiUrl() {
    return `${this.url}/ui/`;
  }

  log() {
    return readFileSync(join(this.workdir, 'server.log'), 'utf8');
  }

  /** fetch() on the HTTP port; `token` (default the admin token) as a bearer token unless null. */
  async fetch(path, { method = 'GET', body, token = this.adminToken, headers = {}, redirect = 'manual' } = {}) {
    const h = { ...headers };
    if (token !== null) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    return fetch(`${this.url}${path}`, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect,
    });
  }

  /** A JSON API call that must succeed; its answer. */
  async api(path, options = {}) {
    const answer = await this.fetch(path, options);
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${options.method || 'GET'} ${path} answered ${answer.status}: ${text}`);
    return JSON.parse(text);
  }

  /** Encrypts `plaintexts` (strings) under `key` with one Transit batch call; the `vault:v1:` values. */
  async transitEncrypt(key, plaintexts) {
    this.plaintexts.push(...plaintexts);
    const answer = await fetch(`${this.url}/v1/transit/encrypt/${key}`, {
      method: 'POST',
      headers: { 'x-vault-token': this.adminToken, 'content-type': 'application/json' },
      body: JSON.stringify({
        batch_input: plaintexts.map((p) => ({ plaintext: Buffer.from(p).toString('base64') })),
      }),
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(`transit encrypt answered ${answer.status}: ${JSON.stringify(body)}`);
    return body.data.batch_results.map((r) => {
      if (!r.ciphertext) throw new Error(`transit encrypt: ${JSON.stringify(r)}`);
      return r.ciphertext;
    });
  }

  /** Fills a target's table with `rows` Transit values of its key (ids 1..rows). */
  async fillTarget(t, rows = t.rows) {
    const plaintexts = Array.from({ length: rows }, (_, i) => `${t.table}-${i + 1}-secret-${randomBytes(12).toString('hex')}`);
    const values = await this.transitEncrypt(t.key, plaintexts);
    sqlite(this.appDb, values.map((v, i) => [`INSERT INTO ${t.table} (id, ${t.column}) VALUES (?, ?)`, [i + 1, v]]));
  }

  /** Values of a target's column, by version prefix: {"v1": n, "v2": m, ...}. */
  versionsIn(t) {
    const rows = sqlite(this.appDb, [[`SELECT ${t.column} FROM ${t.table}`, []]]);
    const counts = {};
    for (const [value] of rows) {
      const version = /^vault:(v\d+):/.exec(value)?.[1] ?? 'other';
      counts[version] = (counts[version] || 0) + 1;
    }
    return counts;
  }

  /** Runs the `rekey` CLI against this server with `token` (default admin); its stdout. */
  cli(args, { token = this.adminToken, input } = {}) {
    const tokenFile = join(this.workdir, `cli-token-${randomBytes(4).toString('hex')}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    try {
      const done = spawnSync(REKEY_BIN, ['--addr', `http://${this.grpc}`, '--token-file', tokenFile, ...args], {
        env: cleanEnv(),
        input,
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (done.status !== 0) throw new Error(`rekey ${args.join(' ')} exited ${done.status}: ${done.stderr}`);
      return done.stdout;
    } finally {
      rmSync(tokenFile, { force: true });
    }
  }

  /** A client-role token made with `rekey token create --role client`. */
  createClientToken(name = 'console test client') {
    return JSON.parse(this.cli(['--json', 'token', 'create', '--name', name, '--role', 'client'])).token;
  }

  /** Polls GET /events/{id} until the event has `status`; the event. */
  async waitForEvent(id, status, timeoutMs = 60_000) {
    const end = Date.now() + timeoutMs;
    let event;
    while (Date.now() < end) {
      event = await this.api(`/api/v1/key-rotation/events/${encodeURIComponent(id)}`);
      if (event.status === status) return event;
      if (['completed', 'failed', 'rolled_back'].includes(event.status) && event.status !== status) break;
      await sleep(100);
    }
    throw new Error(`event ${id} did not become ${status}: ${JSON.stringify(event)}`);
  }

  /** The secrets of this server that must never reach a URL, storage or the console log. */
  secrets() {
    const out = [this.adminToken, ...this.plaintexts, ...this.extraSecrets];
    const masterKey = join(this.workdir, 'data', 'master.key');
    if (existsSync(masterKey)) out.push(readFileSync(masterKey, 'utf8').trim());
    return out.filter((s) => s && s.length >= 8);
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((r) => this.process.once('exit', r));
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.REKEY_KEEP_WORKDIR) rmSync(this.workdir, { recursive: true, force: true });
  }
}

/**
 * Starts `rekey serve` on 127.0.0.1:0 (gRPC and HTTP) with the two migration targets, waits for
 * its ready file, then fills the application tables through the Transit API.
 */
export async function startServer({ fill = true, readyTimeoutMs = 60_000 } = {}) {
  if (!existsSync(REKEY_BIN)) {
    throw new Error(`no rekey binary at ${REKEY_BIN}: set REKEY_BIN (this suite needs a real server)`);
  }
  const workdir = mkdtempSync(join(tmpdir(), 'rekey-console-'));
  const appDb = join(workdir, 'app.db');
  // The tables exist before the server starts: it checks each target's columns on start.
  sqlite(appDb, Object.values(TARGETS).map((t) => [`CREATE TABLE ${t.table} (id INTEGER PRIMARY KEY, ${t.column} TEXT NOT NULL)`, []]));
  const config = join(workdir, 'rekey.toml');
  writeFileSync(config, Object.values(TARGETS).map((t) => targetToml(appDb, t)).join('\n'));
  const ready = join(workdir, 'ready.json');
  const adminToken = `adm_${randomBytes(32).toString('base64url')}`;
  const env = {
    ...cleanEnv(),
    REKEY_ADMIN_TOKEN: adminToken,
    REKEY_DATA_DIR: join(workdir, 'data'),
    // Rotations made back to back by the tests.
    REKEY_MIN_ROTATION_INTERVAL_SECS: '0',
    // No scheduled rotation in the middle of a test (a run crossing 02:00 UTC).
    KEY_ROTATION_SCHEDULE_ENABLED: 'false',
  };
  const log = openSync(join(workdir, 'server.log'), 'w');
  const child = spawn(
    REKEY_BIN,
    ['serve', '--config', config, '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--ready-file', ready],
    { cwd: workdir, env, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  // A test process that dies (a timeout, an uncaught error) takes its server with it.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.removeListener('exit', reap));
  const end = Date.now() + readyTimeoutMs;
  while (!existsSync(ready)) {
    if (child.exitCode !== null || Date.now() > end) {
      child.kill('SIGKILL');
      const tail = readFileSync(join(workdir, 'server.log'), 'utf8').slice(-3000);
      rmSync(workdir, { recursive: true, force: true });
      throw new Error(`rekey serve did not become ready (exit ${child.exitCode}):\n${tail}`);
    }
    await sleep(20);
  }
  const addrs = JSON.parse(readFileSync(ready, 'utf8'));
  if (!addrs.http) throw new Error(`rekey serve's ready file names no HTTP address: ${JSON.stringify(addrs)}`);
  const server = new Server({ process: child, workdir, adminToken, grpc: addrs.grpc, http: addrs.http, appDb });
  if (fill) {
    for (const t of Object.values(TARGETS)) await server.fillTarget(t);
  }
  return server;
}

/** Debian's Chromium, headless. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM)`);
  }
  const args = [];
  // Chromium's sandbox needs user namespaces, which a root user in a container seldom has.
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

/** A fresh browser context (no storage shared with other tests) at 1280×800, downloads on. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, ...options });
  context.setDefaultTimeout(15_000);
  return context;
}

/** Fails at once, saying why, when the binary does not serve the console. */
export async function requireConsole(server) {
  const answer = await server.fetch('/ui/', { token: null });
  if (answer.status !== 200) {
    throw new Error(`${REKEY_BIN} does not serve the console: GET /ui/ answered ${answer.status} (build the binary with console/)`);
  }
}

/**
 * Records what a page does that could leak a secret: every URL its frames navigate to, every
 * request URL (and the Referer header sent), every console message and page error.
 */
export class Recorder {
  constructor() {
    this.urls = [];
    this.console = [];
    this.errors = [];
    this.referers = [];
  }

  attach(page) {
    page.on('framenavigated', (frame) => this.urls.push(frame.url()));
    page.on('request', (request) => {
      this.urls.push(request.url());
      const referer = request.headers().referer;
      if (referer) this.referers.push(referer);
    });
    page.on('console', (message) => this.console.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => this.errors.push(String(error?.stack || error)));
    return this;
  }
}

/** Forms of a secret as it could appear in a URL or a log. */
export function forms(secret) {
  const b64 = Buffer.from(secret).toString('base64');
  return [...new Set([secret, encodeURIComponent(secret), b64, b64.replace(/=+$/, ''), Buffer.from(secret).toString('base64url')])];
}

/** The (secret index, where) pairs of `secrets` found in `texts`. */
export function leaks(secrets, texts) {
  const found = [];
  for (const text of texts) {
    for (const [i, secret] of secrets.entries()) {
      const hit = forms(secret).find((f) => text.includes(f));
      // Said without the secret itself: the report must not leak it either.
      if (hit) {
        const at = text.indexOf(hit);
        const around = text.slice(Math.max(0, at - 120), at + hit.length + 120);
        found.push({ secret: i, where: around.split(hit).join('<secret>') });
      }
    }
  }
  return found;
}
