import { describe, expect, it } from "vitest";
import { backoffMs, DEFAULT_RETRY_POLICY, resolveRetryPolicy } from "./retry.ts";
import { defineStep } from "./step.ts";

describe("retry defaults", () => {
  it("query and mutation: 4 attempts from 125 ms, x2, max 30 s", () => {
    for (const kind of ["query", "mutation"] as const) {
      expect(resolveRetryPolicy(kind)).toEqual({
        maxAttempts: 4,
        initialBackoffMs: 125,
        backoffCoefficient: 2,
        maxBackoffMs: 30_000,
      });
    }
  });
  it("action: one attempt unless the step sets retry", () => {
    expect(resolveRetryPolicy("action").maxAttempts).toBe(1);
    expect(resolveRetryPolicy("action", { maxAttempts: 3 })).toEqual({ ...DEFAULT_RETRY_POLICY, maxAttempts: 3 });
    expect(resolveRetryPolicy("query", false).maxAttempts).toBe(1);
    expect(defineStep({ name: "a", kind: "action", handler: () => 1 }).retry.maxAttempts).toBe(1);
  });
  it("rejects invalid policies naming the field", () => {
    expect(() => resolveRetryPolicy("query", { maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => resolveRetryPolicy("query", { backoffCoefficient: 0.5 })).toThrow(/backoffCoefficient/);
    expect(() => resolveRetryPolicy("query", { maxBackoffMs: 10 })).toThrow(/maxBackoffMs/);
    expect(() => defineStep({ name: "s", kind: "query", handler: () => 1, retry: { maxAttempts: -1 } })).toThrow(
      /step "s": retry.maxAttempts/,
    );
  });
});

describe("backoffMs", () => {
  it("stays within [0.5, 1.0] of the capped exponential base", () => {
    const p = DEFAULT_RETRY_POLICY;
    for (let attempt = 1; attempt <= 20; attempt++) {
      const base = Math.min(125 * 2 ** (attempt - 1), 30_000);
      expect(backoffMs(p, attempt, () => 0)).toBe(base / 2);
      expect(backoffMs(p, attempt, () => 0.999999)).toBeLessThanOrEqual(base);
      for (let i = 0; i < 20; i++) {
        const d = backoffMs(p, attempt);
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
    expect(backoffMs(p, 1, () => 1)).toBe(125);
    expect(backoffMs(p, 30, () => 1)).toBe(30_000);
  });
});
