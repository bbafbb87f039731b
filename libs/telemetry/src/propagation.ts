// W3C trace context across Weft's boundaries: RPC headers, NATS message headers, and the
// traceparent strings persisted with runs and steps (so that work hours later joins the trace).
import {
  type Context,
  context,
  INVALID_SPANID,
  INVALID_TRACEID,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

interface HeaderLike {
  get(key: string): string | null | undefined;
  set(key: string, value: string): void;
}

const setter = { set: (carrier: HeaderLike, key: string, value: string) => carrier.set(key, value) };
const getter = {
  get: (carrier: HeaderLike, key: string) => carrier.get(key) ?? undefined,
  keys: () => ["traceparent", "tracestate", "baggage"],
};

/** Writes the current (or given) context into headers (Connect `Headers`, NATS `MsgHdrs`). */
export function injectContext(headers: HeaderLike, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

/** Reads a context out of headers; the root context when they carry none. */
export function extractContext(headers: HeaderLike | undefined, base: Context = ROOT_CONTEXT): Context {
  return headers ? propagation.extract(base, headers, getter) : base;
}

/**
 * The W3C traceparent of a span context ("" when it is not valid). Persisted traceparents are
 * Weft's own format, written and read here without the configured propagators: a turn or a step
 * that runs hours later joins the run's trace whatever `OTEL_PROPAGATORS` says, and without the
 * propagators' per-call work (a composite, a carrier, baggage).
 */
export function formatTraceparent(sc: SpanContext | undefined): string {
  if (!sc || !trace.isSpanContextValid(sc)) return "";
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The traceparent of the current (or given) context, "" when it holds no valid span context. */
export function currentTraceparent(ctx: Context = context.active()): string {
  return formatTraceparent(trace.getSpanContext(ctx));
}

// version-traceid-parentid-flags, and for versions after 00 whatever they append (W3C Trace Context §3.2).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
// Version 00, the one Weft writes: tested without captures, then sliced.
const TRACEPARENT_00 = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** The (remote) span context of a traceparent, undefined when it is empty, malformed or invalid. */
export function spanContextOf(traceparent: string | undefined): SpanContext | undefined {
  if (!traceparent) return undefined;
  let sc: SpanContext;
  if (traceparent.length === 55 && TRACEPARENT_00.test(traceparent)) {
    sc = {
      traceId: traceparent.slice(3, 35),
      spanId: traceparent.slice(36, 52),
      traceFlags: Number.parseInt(traceparent.slice(53), 16),
      isRemote: true,
    };
  } else {
    const m = TRACEPARENT.exec(traceparent.trim());
    if (!m || m[1] === "ff" || (m[1] === "00" && m[5] !== undefined)) return undefined;
    sc = {
      traceId: m[2] as string,
      spanId: m[3] as string,
      traceFlags: Number.parseInt(m[4] as string, 16),
      isRemote: true,
    };
  }
  // The patterns checked the form; what is left to refuse is an all-zero id.
  return sc.traceId !== INVALID_TRACEID && sc.spanId !== INVALID_SPANID ? sc : undefined;
}

/** A context whose parent is the persisted traceparent (`base` when empty or malformed). */
export function contextFromTraceparent(traceparent: string | undefined, base: Context = ROOT_CONTEXT): Context {
  const sc = spanContextOf(traceparent);
  return sc ? trace.setSpanContext(base, sc) : base;
}
