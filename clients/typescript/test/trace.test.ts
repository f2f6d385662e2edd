// The headers every call carries, seen by an interceptor of the caller's: the bearer token, and
// the traceparent — given per call, or taken from the active span of @opentelemetry/api (a
// context manager on AsyncLocalStorage stands in for an SDK's).

import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { after, before, test } from "node:test";

import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from "@opentelemetry/api";

import { Client } from "../src/index.js";

import { KEY, type Server, startServer } from "./harness.js";

/** The smallest working ContextManager: what @opentelemetry/context-async-hooks provides. */
class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.storage.disable();
    return this;
  }
}

let server: Server;
let client: Client;
const seen: { authorization: string | null; traceparent: string | null }[] = [];

before(async () => {
  context.setGlobalContextManager(new StorageContextManager());
  server = await startServer();
  client = server.client({
    interceptors: [
      (next) => async (req) => {
        seen.push({ authorization: req.header.get("authorization"), traceparent: req.header.get("traceparent") });
        return next(req);
      },
    ],
  });
});
after(async () => {
  context.disable();
  await server.stop();
});

test("the bearer token is on every call; no traceparent without a span or an option", async () => {
  seen.length = 0;
  await client.getStatus({ keyName: KEY });
  assert.deepEqual(seen, [{ authorization: `Bearer ${server.adminToken}`, traceparent: null }]);
});

test("a per-call traceparent is sent as given", async () => {
  seen.length = 0;
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  await client.encrypt({ keyName: KEY, plaintext: Buffer.from("x") }, { traceparent });
  assert.equal(seen[0]?.traceparent, traceparent);
});

test("the active OpenTelemetry span's context is sent when no traceparent is given", async () => {
  seen.length = 0;
  const span = trace.wrapSpanContext({
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: "b7ad6b7169203331",
    traceFlags: TraceFlags.SAMPLED,
  });
  await context.with(trace.setSpan(context.active(), span), () => client.getStatus({ keyName: KEY }));
  assert.equal(seen[0]?.traceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
});
