// A client's options, given in code or read from the environment (`REKEY_*`, as the Rust
// client and the CLI read them: crates/rekey-client/src/builder.rs), and turned into what the
// transport needs: base URL, bearer header, TLS files. Nothing here ever echoes the token.

import type { Interceptor } from "@connectrpc/connect";
import { readFileSync } from "node:fs";

import { ConfigError } from "./errors.js";
import type { Observer } from "./observer.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "./retry.js";

/** The address used when neither `addr` nor `REKEY_ADDR` is given. */
export const DEFAULT_ADDR = "http://127.0.0.1:50051";
/** Default of `batchMaxItems`: the server's default limit of items per batch call. */
export const DEFAULT_BATCH_MAX_ITEMS = 10_000;
/** Default of `batchMaxBytes`: the server's default limit of bytes per batch call (16 MiB). */
export const DEFAULT_BATCH_MAX_BYTES = 16 * 1024 * 1024;

/** Options of a {@link Client}; every field is optional. */
export interface ClientOptions {
  /** `http://host:port`, `https://host:port`, or `host:port` (plain HTTP/2). Default {@link DEFAULT_ADDR}. */
  addr?: string;
  /** The bearer token sent on every call. */
  token?: string;
  /** A file holding the bearer token (read once, when the client is made); wins over `token`. */
  tokenFile?: string;
  /** PEM file of the CA that signed the server's certificate (required for `https://`). */
  caFile?: string;
  /** PEM file of a client certificate, for mTLS (with `clientKeyFile`). */
  clientCertFile?: string;
  /** PEM file of the client certificate's private key, for mTLS (with `clientCertFile`). */
  clientKeyFile?: string;
  /** How long to wait for the TCP (and TLS) connection, ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Default time one attempt may take, ms (also sent as `grpc-timeout`). Default 10000. */
  attemptTimeoutMs?: number;
  /** Default time a call may take in all, retries and backoff included, ms. Default 30000. */
  deadlineMs?: number;
  /** How transient failures of idempotent rpcs are retried. Default {@link DEFAULT_RETRY_POLICY}. */
  retry?: Partial<RetryPolicy>;
  /** Told of every attempt and every data-key cache event (metrics, tests). */
  observer?: Observer;
  /** Connect interceptors run after the client's own (which set the token and traceparent headers). */
  interceptors?: Interceptor[];
  /** Most items `encryptMany`/`decryptMany`/`rewrapMany` send in one batch call. Default {@link DEFAULT_BATCH_MAX_ITEMS}, the server's default limit. */
  batchMaxItems?: number;
  /**
   * Most bytes one batch call carries, counted as the server counts them: the sum over the
   * items of plaintext (EncryptBatch) or ciphertext (DecryptBatch, RewrapBatch) plus associated
   * data. Default {@link DEFAULT_BATCH_MAX_BYTES}, the server's default limit.
   */
  batchMaxBytes?: number;
}

/** The options resolved: what the client runs with. */
export interface ResolvedConfig {
  baseUrl: string;
  bearer: string | undefined;
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined;
  connectTimeoutMs: number;
  attemptTimeoutMs: number;
  deadlineMs: number;
  retry: RetryPolicy;
  observer: Observer | undefined;
  interceptors: Interceptor[];
  batchMaxItems: number;
  batchMaxBytes: number;
}

/**
 * Reads `REKEY_ADDR`, `REKEY_TOKEN_FILE` or else `REKEY_TOKEN`, `REKEY_CA_FILE`, and
 * `REKEY_CLIENT_CERT_FILE` with `REKEY_CLIENT_KEY_FILE` (mTLS, both or neither); `overrides`
 * win over the environment.
 */
export function optionsFromEnv(
  overrides: ClientOptions = {},
  env: Record<string, string | undefined> = process.env,
): ClientOptions {
  const get = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === "" ? undefined : value;
  };
  const options: ClientOptions = { addr: get("REKEY_ADDR") ?? DEFAULT_ADDR };
  const tokenFile = get("REKEY_TOKEN_FILE");
  const token = get("REKEY_TOKEN");
  if (tokenFile !== undefined) {
    options.tokenFile = tokenFile;
  } else if (token !== undefined) {
    options.token = token;
  }
  const ca = get("REKEY_CA_FILE");
  if (ca !== undefined) {
    options.caFile = ca;
  }
  const cert = get("REKEY_CLIENT_CERT_FILE");
  const key = get("REKEY_CLIENT_KEY_FILE");
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      "REKEY_CLIENT_CERT_FILE and REKEY_CLIENT_KEY_FILE go together: set both for mTLS, or neither",
    );
  }
  if (cert !== undefined && key !== undefined) {
    options.clientCertFile = cert;
    options.clientKeyFile = key;
  }
  const merged: ClientOptions = { ...options, ...withoutUndefined(overrides) };
  if (overrides.token !== undefined && overrides.tokenFile === undefined) {
    delete merged.tokenFile;
  }
  return merged;
}

function withoutUndefined(options: ClientOptions): ClientOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ClientOptions;
}

/** Checks the options and reads the files they name. */
export function resolveConfig(options: ClientOptions): ResolvedConfig {
  const baseUrl = normalize(options.addr ?? DEFAULT_ADDR);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigError(`invalid Rekey address ${JSON.stringify(baseUrl)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`invalid Rekey address ${JSON.stringify(baseUrl)}: use http:// or https://`);
  }
  if ((options.clientCertFile === undefined) !== (options.clientKeyFile === undefined)) {
    throw new ConfigError("clientCertFile and clientKeyFile go together: set both for mTLS, or neither");
  }
  let tls: ResolvedConfig["tls"];
  if (url.protocol === "https:") {
    if (options.caFile === undefined) {
      // No public root store on purpose, as the Rust client: Rekey sits behind a private CA.
      throw new ConfigError("an https:// address needs the server's CA: set REKEY_CA_FILE or caFile");
    }
    tls = { ca: read(options.caFile) };
    if (options.clientCertFile !== undefined && options.clientKeyFile !== undefined) {
      tls.cert = read(options.clientCertFile);
      tls.key = read(options.clientKeyFile);
    }
  } else if (options.caFile !== undefined || options.clientCertFile !== undefined) {
    throw new ConfigError(
      `a CA or client certificate is set but the address ${JSON.stringify(baseUrl)} is not https://`,
    );
  }
  return {
    baseUrl,
    bearer: bearer(options),
    tls,
    connectTimeoutMs: positive(options.connectTimeoutMs, 5_000, "connectTimeoutMs"),
    attemptTimeoutMs: positive(options.attemptTimeoutMs, 10_000, "attemptTimeoutMs"),
    deadlineMs: positive(options.deadlineMs, 30_000, "deadlineMs"),
    retry: retryPolicy(options.retry),
    observer: options.observer,
    interceptors: options.interceptors ?? [],
    batchMaxItems: positiveInteger(options.batchMaxItems, DEFAULT_BATCH_MAX_ITEMS, "batchMaxItems"),
    batchMaxBytes: positiveInteger(options.batchMaxBytes, DEFAULT_BATCH_MAX_BYTES, "batchMaxBytes"),
  };
}

function bearer(options: ClientOptions): string | undefined {
  let token: string;
  if (options.tokenFile !== undefined) {
    token = read(options.tokenFile).toString("utf8").trim();
    if (token === "") {
      throw new ConfigError(`token file ${options.tokenFile} is empty`);
    }
  } else if (options.token !== undefined) {
    token = options.token.trim();
  } else {
    return undefined;
  }
  // The error names no part of the token: it is a secret.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError("the token contains characters that cannot be sent in a header");
  }
  return `Bearer ${token}`;
}

function retryPolicy(partial: Partial<RetryPolicy> | undefined): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...withoutUndefinedRetry(partial ?? {}) };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new ConfigError("retry.maxAttempts must be an integer of at least 1");
  }
  if (!(policy.initialBackoffMs >= 0) || !(policy.maxBackoffMs >= 0)) {
    throw new ConfigError("retry backoffs must be non-negative numbers of ms");
  }
  return Object.freeze(policy);
}

function withoutUndefinedRetry(partial: Partial<RetryPolicy>): Partial<RetryPolicy> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(`${name} must be a positive number of ms`);
  }
  return value;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${name} must be a positive integer`);
  }
  return value;
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const reason = e instanceof Error && "code" in e ? String((e as NodeJS.ErrnoException).code) : "unreadable";
    throw new ConfigError(`cannot read ${path}: ${reason}`);
  }
}

/** `host:port` means `http://host:port`. */
export function normalize(addr: string): string {
  const trimmed = addr.trim();
  return trimmed.includes("://") ? trimmed : `http://${trimmed}`;
}
