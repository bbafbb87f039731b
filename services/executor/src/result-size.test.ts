// stepResultBytes equals the encoded size for every shape of result (so batches split by bytes
// stay under the limit without encoding each result twice).
import { create, toBinary } from "@bufbuild/protobuf";
import { encodePayload, FailureSchema, StepResultSchema, toTimestamp } from "@weft/contracts";
import { describe, expect, test } from "vitest";
import { stepResultBytes } from "./result-size.ts";

const S = StepResultSchema;

const id = "01900001-0000-7000-8000-000000000001";

describe("stepResultBytes", () => {
  const cases = {
    empty: create(S, {}),
    result: create(S, {
      stepId: id,
      runId: id,
      generation: 3,
      attempt: 200,
      outcome: { case: "result", value: encodePayload({ big: "x".repeat(70_000) }) },
      startedAt: toTimestamp(Date.now()),
      finishedAt: toTimestamp(Date.now() + 1),
      traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`,
    }),
    "empty result": create(S, { stepId: id, outcome: { case: "result", value: new Uint8Array(0) } }),
    failure: create(S, {
      stepId: id,
      runId: id,
      generation: 1,
      attempt: 1,
      outcome: {
        case: "failure",
        value: create(FailureSchema, {
          name: "Error",
          message: "ünïcödé ✓ ".repeat(40),
          stack: "at x\n".repeat(100),
          details: encodePayload({ retryAfterMs: 5 }),
        }),
      },
      startedAt: { seconds: 0n, nanos: 5 },
      finishedAt: { seconds: -1n, nanos: 0 },
    }),
  };
  for (const [name, result] of Object.entries(cases)) {
    test(name, () => expect(stepResultBytes(result)).toBe(toBinary(StepResultSchema, result).length));
  }

  test("knows every StepResult field (add new ones to result-size.ts)", () => {
    expect(StepResultSchema.fields.map((f) => f.number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
