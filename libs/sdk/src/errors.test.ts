import { describe, expect, it } from "vitest";
import {
  CanceledError,
  ChildWorkflowFailedError,
  failureToError,
  NonDeterminismError,
  NonRetryableError,
  RateLimitError,
  StepFailedError,
  TimeoutError,
  toFailure,
  WeftError,
} from "./errors.ts";

describe("errors", () => {
  it("have stable names and share the WeftError base", () => {
    const cases: [Error, string][] = [
      [new NonRetryableError("x"), "NonRetryableError"],
      [new RateLimitError("x", { retryAfterMs: 5 }), "RateLimitError"],
      [new NonDeterminismError("x"), "NonDeterminismError"],
      [new TimeoutError("x"), "TimeoutError"],
      [new CanceledError("x"), "CanceledError"],
      [new StepFailedError("s", 1, { name: "Error", message: "boom" }), "StepFailedError"],
      [new ChildWorkflowFailedError("c", "r1", { name: "Error", message: "boom" }), "ChildWorkflowFailedError"],
    ];
    for (const [err, name] of cases) {
      expect(err.name).toBe(name);
      expect(err).toBeInstanceOf(WeftError);
      expect(err).toBeInstanceOf(Error);
    }
  });

  it("round-trip through a Failure keeping class and details", () => {
    const rl = failureToError(toFailure(new RateLimitError("slow down", { retryAfterMs: 1500 })));
    expect(rl).toBeInstanceOf(RateLimitError);
    expect((rl as RateLimitError).retryAfterMs).toBe(1500);
    const sf = failureToError(toFailure(new StepFailedError("analyze", 3, { name: "TypeError", message: "bad" })));
    expect(sf).toBeInstanceOf(StepFailedError);
    expect((sf as StepFailedError).failure).toEqual({ name: "TypeError", message: "bad" });
    expect((sf as StepFailedError).seq).toBe(3);
    const other = failureToError({ name: "TypeError", message: "nope" });
    expect(other.name).toBe("TypeError");
    expect(other.message).toBe("nope");
  });

  it("toFailure handles non-errors", () => {
    expect(toFailure("text")).toEqual({ name: "Error", message: "text" });
    expect(toFailure({ a: 1 })).toEqual({ name: "Error", message: '{"a":1}' });
    const f = toFailure(new TypeError("t"));
    expect(f.name).toBe("TypeError");
    expect(f.stack).toContain("TypeError");
    expect(f.details).toBeUndefined();
  });
});
