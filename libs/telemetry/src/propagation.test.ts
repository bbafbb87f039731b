import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { describe, expect, test } from "vitest";
import { contextFromTraceparent, currentTraceparent, formatTraceparent, spanContextOf } from "./propagation.ts";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const spanId = "00f067aa0ba902b7";

describe("persisted traceparents", () => {
  test("a span context goes out and comes back as a remote parent, flags and all", () => {
    for (const traceFlags of [TraceFlags.SAMPLED, TraceFlags.NONE]) {
      const text = formatTraceparent({ traceId, spanId, traceFlags });
      expect(text).toBe(`00-${traceId}-${spanId}-0${traceFlags}`);
      expect(spanContextOf(text)).toEqual({ traceId, spanId, traceFlags, isRemote: true });
      const ctx = contextFromTraceparent(text);
      expect(trace.getSpanContext(ctx)).toEqual({ traceId, spanId, traceFlags, isRemote: true });
      expect(currentTraceparent(ctx)).toBe(text);
    }
  });

  test("a later version's extra fields are accepted; version 00 with extra fields and version ff are not", () => {
    expect(spanContextOf(`01-${traceId}-${spanId}-01-what-comes-next`)?.spanId).toBe(spanId);
    expect(spanContextOf(` 00-${traceId}-${spanId}-01 `)?.spanId).toBe(spanId);
    expect(spanContextOf(`00-${traceId}-${spanId}-01-extra`)).toBeUndefined();
    expect(spanContextOf(`ff-${traceId}-${spanId}-01`)).toBeUndefined();
  });

  test("empty, malformed and all-zero ids give no context, and the base context is kept", () => {
    const base = ROOT_CONTEXT.setValue(Symbol("mark"), 1);
    for (const text of [
      undefined,
      "",
      "garbage",
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `00-${traceId}-${spanId}-1`,
      `00-${"0".repeat(32)}-${spanId}-01`,
      `00-${traceId}-${"0".repeat(16)}-01`,
    ]) {
      expect(spanContextOf(text)).toBeUndefined();
      expect(contextFromTraceparent(text, base)).toBe(base);
    }
  });

  test("no span context, or an invalid one, formats as the empty string", () => {
    expect(currentTraceparent(ROOT_CONTEXT)).toBe("");
    expect(formatTraceparent(undefined)).toBe("");
    expect(formatTraceparent({ traceId: "0".repeat(32), spanId, traceFlags: 1 })).toBe("");
  });
});
