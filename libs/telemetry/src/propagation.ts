// W3C trace context across Weft's boundaries: RPC headers, NATS message headers, and the
// traceparent strings persisted with runs and steps (so that work hours later joins the trace).
import { type Context, context, propagation, ROOT_CONTEXT, trace } from "@opentelemetry/api";

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

/** The traceparent of the current (or given) context, "" when there is no recording span. */
export function currentTraceparent(ctx: Context = context.active()): string {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? "";
}

/** A context whose parent is the persisted traceparent (root when empty or malformed). */
export function contextFromTraceparent(traceparent: string | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!traceparent) return base;
  return propagation.extract(base, { traceparent });
}

/** The span context of a persisted traceparent, for span links. */
export function spanContextOf(traceparent: string | undefined) {
  if (!traceparent) return undefined;
  const span = trace.getSpan(contextFromTraceparent(traceparent));
  const sc = span?.spanContext();
  return sc && trace.isSpanContextValid(sc) ? sc : undefined;
}
