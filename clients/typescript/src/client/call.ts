// The one loop every rpc goes through: the bearer token and trace context on the request (by
// interceptors), a timeout per attempt (Connect's timeoutMs: sent as grpc-timeout and enforced
// locally) inside an overall deadline, and retries where the rpc and the error allow. Mirrors
// crates/rekey-client/src/client.rs `Client::call`. Streaming rpcs go through `stream`: one
// attempt, never retried (their input cannot be replayed), bounded only by a per-call deadline.

import type { DescMessage, DescMethodBiDiStreaming, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { createContextKey, createContextValues, type ContextValues, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { setTimeout as sleep } from "node:timers/promises";

import type { ResolvedConfig } from "./config.js";
import { ConfigError, DeadlineExceededError, errorFromCall, type Input, type RekeyError } from "./errors.js";
import { nextWait, type Idempotency } from "./retry.js";
import { activeTraceparent, isTraceparent } from "./trace.js";

/** Per-call overrides of the client's defaults. */
export interface CallOptions {
  /**
   * Time the whole call may take, retries included, ms. For the streaming rpcs
   * (`encryptStream`, `decryptStream`) it bounds the whole stream, and only when given here:
   * the client's default deadline does not apply to them.
   */
  deadlineMs?: number;
  /** Time one attempt may take, ms (a streaming rpc's one attempt: as `deadlineMs`). */
  attemptTimeoutMs?: number;
  /**
   * A W3C `traceparent` to send, so the server's spans join the caller's trace. Without it,
   * the active span of @opentelemetry/api is used when that package is installed.
   */
  traceparent?: string;
  /** Cancels the call (no further attempt is made; a stream fails while being iterated). */
  signal?: AbortSignal;
}

/** Largest answer accepted: well above any server's limit, so the server's limit decides. */
const MAX_RESPONSE_BYTES = 1 << 30;

const TRACEPARENT = createContextKey<string | undefined>(undefined, { description: "traceparent" });

/** Puts `authorization: Bearer …` on every request. */
function bearerInterceptor(bearer: string): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", bearer);
    return next(req);
  };
}

/** Puts the call's traceparent (given, or from OpenTelemetry) on the request. */
const traceInterceptor: Interceptor = (next) => async (req) => {
  const traceparent = req.contextValues.get(TRACEPARENT);
  if (traceparent !== undefined) {
    req.header.set("traceparent", traceparent);
  }
  return next(req);
};

/** The transport and the retry loop of one client. */
export class CallRunner {
  private readonly transport: Transport;
  private readonly sessions: Http2SessionManager;

  constructor(private readonly config: ResolvedConfig) {
    const nodeOptions = config.tls === undefined ? {} : { ...config.tls };
    this.sessions = new Http2SessionManager(config.baseUrl, { connectTimeoutMs: config.connectTimeoutMs }, nodeOptions);
    // Connect runs the first interceptor outermost: ours set the headers, then the caller's see them.
    const interceptors: Interceptor[] = [traceInterceptor, ...config.interceptors];
    if (config.bearer !== undefined) {
      interceptors.unshift(bearerInterceptor(config.bearer));
    }
    this.transport = createGrpcTransport({
      baseUrl: config.baseUrl,
      sessionManager: this.sessions,
      interceptors,
      readMaxBytes: MAX_RESPONSE_BYTES,
    });
  }

  get observer(): ResolvedConfig["observer"] {
    return this.config.observer;
  }

  /** Closes the HTTP/2 connection; calls in flight fail. */
  close(): void {
    this.sessions.abort();
  }

  /** Sends `request`, retrying as `idempotency` and the policy allow. */
  async call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
    idempotency: Idempotency,
    input: Input,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    const rpc = method.name;
    const total = options.deadlineMs ?? this.config.deadlineMs;
    const end = performance.now() + total;
    const contextValues = this.contextValues(options);
    for (let attempt = 1; ; attempt++) {
      const remaining = end - performance.now();
      const perAttempt = Math.min(options.attemptTimeoutMs ?? this.config.attemptTimeoutMs, remaining);
      let error: RekeyError;
      if (perAttempt < 1) {
        error = new DeadlineExceededError(`${rpc} gave no answer within its deadline of ${total} ms`, "DEADLINE_EXCEEDED");
      } else {
        try {
          const response = await this.transport.unary(
            method,
            options.signal,
            Math.ceil(perAttempt),
            undefined,
            request,
            contextValues,
          );
          this.report(rpc, attempt, undefined);
          return response.message;
        } catch (e) {
          error = errorFromCall(e, input);
        }
      }
      this.report(rpc, attempt, error);
      if (options.signal?.aborted === true) {
        throw error;
      }
      const wait = nextWait(this.config.retry, error, idempotency, attempt, end - performance.now());
      if (wait === undefined) {
        throw error;
      }
      await sleep(wait, undefined, options.signal === undefined ? {} : { signal: options.signal }).catch(() => {
        throw error;
      });
    }
  }

  /**
   * One bidirectional-streaming call: sends `requests` as the caller's iterable yields them and
   * yields the answers as they arrive. Never retried: the requests are consumed as they are
   * sent, so they cannot be sent again. Errors are thrown while iterating, mapped as `call`'s
   * (`input` as there); an error thrown by the caller's own iterable is rethrown unchanged.
   * Leaving the iteration early (break, return, an exception in the loop) cancels the call.
   * No deadline unless `options` gives `deadlineMs` or `attemptTimeoutMs` (the smaller wins).
   */
  async *stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodBiDiStreaming<I, O>,
    requests: AsyncIterable<MessageInitShape<I>>,
    input: Input,
    options: CallOptions = {},
  ): AsyncGenerator<MessageShape<O>, void, undefined> {
    const rpc = method.name;
    const contextValues = this.contextValues(options);
    const limits = [options.deadlineMs, options.attemptTimeoutMs].filter((ms): ms is number => ms !== undefined);
    const timeoutMs = limits.length === 0 ? undefined : Math.min(...limits);
    if (timeoutMs !== undefined && !(timeoutMs >= 1)) {
      const error = new DeadlineExceededError(`${rpc} gave no answer within its deadline of ${timeoutMs} ms`, "DEADLINE_EXCEEDED");
      this.report(rpc, 1, error);
      throw error;
    }
    // Our own signal, so that leaving the loop early cancels the call; the caller's aborts it.
    const controller = new AbortController();
    const callerSignal = options.signal;
    const onAbort = (): void => controller.abort(callerSignal?.reason);
    if (callerSignal?.aborted === true) {
      onAbort();
    } else {
      callerSignal?.addEventListener("abort", onAbort, { once: true });
    }
    // The caller's iterable failing is the caller's error, not the call's.
    let inputFailure: { error: unknown } | undefined;
    const guarded = async function* (): AsyncGenerator<MessageInitShape<I>> {
      try {
        yield* requests;
      } catch (e) {
        inputFailure = { error: e };
        throw e;
      }
    };
    let finished = false;
    try {
      const response = await this.transport.stream(
        method,
        controller.signal,
        timeoutMs === undefined ? undefined : Math.ceil(timeoutMs),
        undefined,
        guarded(),
        contextValues,
      );
      yield* response.message;
      finished = true;
      this.report(rpc, 1, undefined);
    } catch (e) {
      finished = true;
      if (inputFailure !== undefined) {
        throw inputFailure.error;
      }
      const error = errorFromCall(e, input);
      this.report(rpc, 1, error);
      throw error;
    } finally {
      callerSignal?.removeEventListener("abort", onAbort);
      if (!finished) {
        // The caller stopped iterating: end the call rather than leave it waiting.
        controller.abort();
      }
    }
  }

  /** The call's context: its traceparent (given, else OpenTelemetry's), checked. */
  private contextValues(options: CallOptions): ContextValues {
    const traceparent = options.traceparent ?? activeTraceparent();
    if (traceparent !== undefined && !isTraceparent(traceparent)) {
      throw new ConfigError("traceparent is not a valid W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)");
    }
    return createContextValues().set(TRACEPARENT, traceparent);
  }

  private report(rpc: string, attempt: number, error: RekeyError | undefined): void {
    this.config.observer?.onAttempt?.(rpc, attempt, error);
  }
}
