// The W3C `traceparent` of a call: the caller's explicit one, else the active span of
// @opentelemetry/api when that optional peer dependency is installed (and an SDK has made a
// span current). Loaded once with a dynamic import so the client works without it.

/** The part of @opentelemetry/api's surface this module uses (no type dependency on it). */
interface OtelApi {
  context: { active(): unknown };
  trace: {
    getSpanContext(context: unknown): { traceId: string; spanId: string; traceFlags: number } | undefined;
    isSpanContextValid?(spanContext: { traceId: string; spanId: string }): boolean;
  };
}

const OTEL_MODULE = "@opentelemetry/api";

async function loadOtel(): Promise<OtelApi | undefined> {
  try {
    // A variable specifier keeps TypeScript and bundlers from requiring the optional peer.
    return (await import(OTEL_MODULE)) as OtelApi;
  } catch {
    return undefined;
  }
}

const otel: OtelApi | undefined = await loadOtel();

/** Whether `value` has the shape of a version-00 W3C traceparent. */
export function isTraceparent(value: string): boolean {
  return /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(value)
    && !/^[0-9a-f]{2}-0{32}-/.test(value)
    && !/-0{16}-[0-9a-f]{2}$/.test(value);
}

/** The traceparent of the active OpenTelemetry span, if the API is installed and a span is active. */
export function activeTraceparent(): string | undefined {
  if (otel === undefined) {
    return undefined;
  }
  const span = otel.trace.getSpanContext(otel.context.active());
  if (span === undefined) {
    return undefined;
  }
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  const value = `00-${span.traceId}-${span.spanId}-${flags}`;
  return isTraceparent(value) ? value : undefined;
}

/** Whether the OpenTelemetry API was found (for diagnostics and tests). */
export const otelAvailable: boolean = otel !== undefined;
