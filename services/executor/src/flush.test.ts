// The flusher's batching rules, with a record function the test controls (acks are the
// `recorded` callback; the executor tests cover real JetStream acks).
import { create } from "@bufbuild/protobuf";
import { encodePayload, StepResultSchema } from "@weft/contracts";
import { createLogger } from "@weft/runtime";
import { describe, expect, test } from "vitest";
import { type FlushEntry, ResultFlusher } from "./flush.ts";
import type { HeldTask } from "./held-tasks.ts";

const logger = createLogger("flush-test", "silent");

interface Call {
  ids: string[];
  resolve(): void;
  reject(err: Error): void;
}

function setup(options: { maxResults?: number; maxBytes?: number; maxCalls?: number } = {}) {
  const calls: Call[] = [];
  const acked: string[] = [];
  const flusher = new ResultFlusher({
    maxResults: options.maxResults ?? 500,
    maxBytes: options.maxBytes ?? 1 << 20,
    maxCalls: options.maxCalls ?? 2,
    logger,
    retry: { maxAttempts: Number.POSITIVE_INFINITY, initialBackoffMs: 10, backoffCoefficient: 1, maxBackoffMs: 10 },
    record: (results) =>
      new Promise<void>((resolve, reject) => calls.push({ ids: results.map((r) => r.stepId), resolve, reject })),
    recorded: (entries: readonly FlushEntry[]) => acked.push(...entries.map((e) => e.result.stepId)),
  });
  const add = (id: string, payload: unknown = 1) =>
    flusher.add(
      { task: { stepId: id } } as HeldTask,
      create(StepResultSchema, {
        stepId: id,
        outcome: { case: "result", value: encodePayload(payload) },
      }),
    );
  return { calls, acked, flusher, add };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
/** The end of this event-loop turn, where an idle flusher sends. */
const turnEnd = () => new Promise((r) => setImmediate(r));

describe("ResultFlusher", () => {
  test("sends at the end of the turn when idle; what piles up during the call rides the next one", async () => {
    const { calls, acked, add } = setup();
    add("a");
    await turnEnd();
    expect(calls.map((c) => c.ids)).toEqual([["a"]]);
    for (const id of ["b", "c", "d"]) add(id);
    await turnEnd();
    // A partial batch waits for the call in flight.
    expect(calls).toHaveLength(1);
    expect(acked).toEqual([]);
    calls[0]!.resolve();
    await tick();
    expect(acked).toEqual(["a"]);
    expect(calls.map((c) => c.ids)).toEqual([["a"], ["b", "c", "d"]]);
    calls[1]!.resolve();
    await tick();
    expect(acked).toEqual(["a", "b", "c", "d"]);
  });

  test("results finished in one turn go in one call (a fan-out's steps), not the first alone", async () => {
    const { calls, acked, add, flusher } = setup();
    add("a");
    add("b");
    add("c");
    expect(calls).toHaveLength(0);
    await turnEnd();
    expect(calls.map((c) => c.ids)).toEqual([["a", "b", "c"]]);
    calls[0]!.resolve();
    expect(await flusher.drain(1_000)).toBe(true);
    expect(acked).toEqual(["a", "b", "c"]);
  });

  test("splits by count; full batches use the second call slot, never more than maxCalls", async () => {
    const { calls, add } = setup({ maxResults: 3, maxCalls: 2 });
    add("x");
    await turnEnd();
    for (let i = 0; i < 8; i++) add(`r${i}`);
    await turnEnd();
    // x went alone; the buffer reached a full batch of 3 while x was in flight → second slot.
    expect(calls.map((c) => c.ids)).toEqual([["x"], ["r0", "r1", "r2"]]);
    calls[0]!.resolve();
    await tick();
    expect(calls.map((c) => c.ids.length)).toEqual([1, 3, 3]);
    calls[1]!.resolve();
    calls[2]!.resolve();
    await tick();
    expect(calls.map((c) => c.ids.length)).toEqual([1, 3, 3, 2]);
  });

  test("splits by bytes", async () => {
    const { calls, add } = setup({ maxBytes: 2_500, maxCalls: 1 });
    add("first");
    await turnEnd();
    const big = "y".repeat(1_000);
    for (let i = 0; i < 5; i++) add(`b${i}`, big);
    calls[0]!.resolve();
    await tick();
    // Each result is ~1 KB: two fit under 2,500 bytes.
    expect(calls[1]!.ids).toEqual(["b0", "b1"]);
    calls[1]!.resolve();
    await tick();
    expect(calls[2]!.ids).toEqual(["b2", "b3"]);
  });

  test("a result too large for any batch is recorded as ResultTooLargeError", async () => {
    const calls: string[] = [];
    const flusher = new ResultFlusher({
      maxResults: 10,
      maxBytes: 1_024,
      maxCalls: 1,
      logger,
      record: async (results) => {
        for (const r of results) calls.push(r.outcome.case === "failure" ? r.outcome.value.name : "ok");
      },
      recorded: () => {},
    });
    flusher.add(
      {} as HeldTask,
      create(StepResultSchema, { stepId: "s", outcome: { case: "result", value: encodePayload("z".repeat(5_000)) } }),
    );
    await tick();
    expect(calls).toEqual(["ResultTooLargeError"]);
  });

  test("a failed call is retried with the same results and acks nothing until it succeeds", async () => {
    const { calls, acked, add, flusher } = setup();
    add("a");
    await turnEnd();
    add("b");
    calls[0]!.reject(new Error("down"));
    await new Promise((r) => setTimeout(r, 30));
    expect(acked).toEqual([]);
    expect(calls[1]!.ids).toEqual(["a"]);
    calls[1]!.reject(new Error("still down"));
    await new Promise((r) => setTimeout(r, 30));
    calls[2]!.resolve();
    await tick();
    expect(acked).toEqual(["a"]);
    await tick();
    calls[3]!.resolve();
    expect(await flusher.drain(1_000)).toBe(true);
    expect(acked).toEqual(["a", "b"]);
    expect(flusher.stats.failedCalls).toBe(2);
  });

  test("drain gives up at the deadline and leaves the results unacked", async () => {
    const { acked, add, flusher } = setup();
    add("a");
    expect(await flusher.drain(50)).toBe(false);
    expect(acked).toEqual([]);
  });

  test("a rejected batch is bisected and the offending result recorded as a failure", async () => {
    const sent: string[][] = [];
    const acked: string[] = [];
    const flusher = new ResultFlusher({
      maxResults: 10,
      maxBytes: 1 << 20,
      maxCalls: 1,
      logger,
      isRejection: (err) => (err as Error).message === "invalid",
      record: async (results) => {
        sent.push(results.map((r) => `${r.stepId}:${r.outcome.case === "failure" ? r.outcome.value.name : "ok"}`));
        if (results.some((r) => r.stepId === "bad" && r.outcome.case === "result")) throw new Error("invalid");
      },
      recorded: (entries) => acked.push(...entries.map((e) => e.result.stepId)),
    });
    for (const id of ["g1", "g2", "bad", "g3"]) {
      flusher.add(
        {} as HeldTask,
        create(StepResultSchema, { stepId: id, outcome: { case: "result", value: encodePayload(1) } }),
      );
    }
    expect(await flusher.drain(1_000)).toBe(true);
    expect(acked.sort()).toEqual(["bad", "g1", "g2", "g3"]);
    expect(sent.flat()).toContain("bad:ResultRejectedError");
  });
});
