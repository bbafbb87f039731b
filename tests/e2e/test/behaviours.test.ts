// What workflow authors rely on, end to end through the real services: retries and their
// backoff, non-retryable errors, rate limits, timeouts, timers, events, child runs, cancel,
// idempotent start, races and non-determinism detection.
import { RunStatus, StepStatus } from "@weft/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("behaviours", { executors: 2 });
});
afterAll(async () => {
  await h?.stop();
});

describe("retries", () => {
  it("retries a step that fails twice, with backoff within bounds", async () => {
    const run = await h.finished((await h.start("retrying", null)).id);
    expect(run.status).toBe(RunStatus.COMPLETED);
    const { attempt, times } = h.result<{ attempt: number; times: number[] }>(run);
    expect(attempt).toBe(3);
    expect(times).toHaveLength(3);
    // Policy: 100 ms initial, x2, jitter keeps each wait within [0.5, 1] of the nominal delay.
    const [t0, t1, t2] = times as [number, number, number];
    expect(t1 - t0).toBeGreaterThanOrEqual(50);
    expect(t1 - t0).toBeLessThan(100 + 500);
    expect(t2 - t1).toBeGreaterThanOrEqual(100);
    expect(t2 - t1).toBeLessThan(200 + 500);
    const { steps } = await h.history(run.id);
    expect(steps[0]?.attempt).toBe(3);
  });

  it("fails the run on a non-retryable error after one attempt", async () => {
    const run = await h.finished((await h.start("failing", null)).id);
    expect(run.status).toBe(RunStatus.FAILED);
    expect(run.error?.message).toContain("the input can never work");
    const attempts = h.sideEffects().filter((e) => e.runId === run.id && e.name === "fatal");
    expect(attempts).toHaveLength(1);
  });

  it("pauses a rate-limited handler for its retry-after, then succeeds", async () => {
    const started = Date.now();
    const run = await h.finished((await h.start("rateLimited", null)).id);
    expect(run.status).toBe(RunStatus.COMPLETED);
    const { at } = h.result<{ before: number; at: number }>(run);
    expect(at - started).toBeGreaterThanOrEqual(900);
    const attempts = h.sideEffects().filter((e) => e.runId === run.id && e.name === "limited");
    expect(attempts).toHaveLength(2);
  });

  it("times out a step that runs past its timeout", async () => {
    const run = await h.finished((await h.start("timingOut", null)).id);
    expect(run.status).toBe(RunStatus.FAILED);
    // The workflow did not catch the step's failure, so the run fails with it.
    expect(run.error?.name).toBe("StepFailedError");
    expect(run.error?.message).toMatch(/TimeoutError|timed out/i);
    const { steps } = await h.history(run.id);
    expect(steps[0]?.error?.name).toBe("TimeoutError");
  });
});

describe("timers, events and children", () => {
  it("sleeps durably", async () => {
    const started = Date.now();
    const run = await h.finished((await h.start("sleeper", 300)).id);
    expect(run.status).toBe(RunStatus.COMPLETED);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const { before, after } = h.result<{ before: number; after: number }>(run);
    expect(after - before).toBeGreaterThanOrEqual(300);
  });

  it("receives an event sent after the wait began", async () => {
    const run = await h.start("eventWaiter", {});
    // Wait until the EVENT step is journaled, then send.
    for (let i = 0; i < 100; i++) {
      const { steps } = await h.history(run.id);
      if (steps.some((s) => s.eventName === "go")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const sent = await h.client.sendEvent({
      runId: run.id,
      eventName: "go",
      payload: new TextEncoder().encode('{"value":7}'),
    });
    expect(sent.delivered).toBe(true);
    const done = await h.finished(run.id);
    expect(done.status).toBe(RunStatus.COMPLETED);
    expect(h.result(done)).toEqual({ value: 7 });
  });

  it("receives an event sent before the wait began", async () => {
    const run = await h.start("eventWaiter", {});
    await h.client.sendEvent({ runId: run.id, eventName: "go", payload: new TextEncoder().encode('{"value":9}') });
    const done = await h.finished(run.id);
    expect(h.result(done)).toEqual({ value: 9 });
  });

  it("fails an event wait at its timeout", async () => {
    const done = await h.finished((await h.start("eventWaiter", { timeoutMs: 200 })).id);
    expect(done.status).toBe(RunStatus.FAILED);
    expect(done.error?.name).toBe("TimeoutError");
    expect(done.error?.message).toContain('"go"');
  });

  it("runs child workflows and returns their results to the parent", async () => {
    const run = await h.finished((await h.start("parent", 5)).id);
    expect(run.status).toBe(RunStatus.COMPLETED);
    expect(h.result(run)).toBe(5 * 2 + 6 * 2);
    const children = await h.client.listWorkflows({ parentRunId: run.id });
    expect(children.runs).toHaveLength(2);
    expect(children.runs.every((c) => c.status === RunStatus.COMPLETED)).toBe(true);
  });

  it("lets a sleep win a race against a slow step, and a fast step win against a long sleep", async () => {
    const sleepWins = await h.finished((await h.start("racer", { stepMs: 1500, sleepMs: 100 })).id);
    expect(h.result(sleepWins)).toBe("sleep");
    const stepWins = await h.finished((await h.start("racer", { stepMs: 10, sleepMs: 5000 })).id);
    expect(h.result(stepWins)).toBe("step");
  });
});

describe("control", () => {
  it("cancels a run; the in-flight step's late result is ignored", async () => {
    const run = await h.start("cancelable", 1500);
    for (let i = 0; i < 100; i++) {
      if (h.sideEffects().some((e) => e.runId === run.id && e.name === "wait" && e.phase === "start")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const canceled = await h.client.cancelWorkflow({ runId: run.id, reason: "test says stop" });
    expect(canceled.run?.status).toBe(RunStatus.CANCELED);
    // Let the step finish and its result reach the journal.
    for (let i = 0; i < 100; i++) {
      if (h.sideEffects().some((e) => e.runId === run.id && e.name === "wait" && e.phase === "end")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { run: after, steps } = await h.history(run.id);
    expect(after?.status).toBe(RunStatus.CANCELED);
    expect(after?.error?.message).toContain("test says stop");
    expect(steps).toHaveLength(1);
    expect(steps[0]?.status).toBe(StepStatus.CANCELED);
  });

  it("returns the existing run for a repeated idempotency key", async () => {
    const first = await h.client.startWorkflow({
      workflowName: "sleeper",
      args: new TextEncoder().encode("1"),
      idempotencyKey: "once",
    });
    const second = await h.client.startWorkflow({
      workflowName: "sleeper",
      args: new TextEncoder().encode("1"),
      idempotencyKey: "once",
    });
    expect(second.run?.id).toBe(first.run?.id);
    expect(second.existing).toBe(true);
    const rows = await h.sql("SELECT id FROM runs WHERE idempotency_key = 'once'");
    expect(rows).toHaveLength(1);
  });

  it("fails a run whose code changed under it, naming both steps", async () => {
    const run = await h.start("changing", 1500);
    for (let i = 0; i < 100; i++) {
      if (h.sideEffects().some((e) => e.runId === run.id && e.name === "wait")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Deploy a coordinator whose workflow code calls a different first step.
    const old = h.stack.coordinators.splice(0, 1)[0]!;
    await old.stop();
    h.stack.coordinators.push(await h.stack.add("coordinator", { WEFT_E2E_VARIANT: "b" }));
    const done = await h.finished(run.id);
    expect(done.status).toBe(RunStatus.FAILED);
    expect(done.error?.name).toBe("NonDeterminismError");
    expect(done.error?.message).toMatch(/"echo"/);
    expect(done.error?.message).toMatch(/"wait"/);
  });
});
