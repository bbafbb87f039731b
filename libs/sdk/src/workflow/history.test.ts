// The replay check on hand-made histories: ok, each kind of divergence, running vs ended runs,
// a missing workflow, and the format errors parseHistory names.
import { describe, expect, it } from "vitest";
import { defineApp } from "../app.ts";
import { defineStep } from "../step.ts";
import { defineWorkflow, type WorkflowContext } from "../workflow-definition.ts";
import { checkHistory, HISTORY_FORMAT, type HistoryExport, HistoryFormatError, parseHistory } from "./history.ts";

const a = defineStep({ name: "a", kind: "action", handler: async (x: number) => x + 1 });
const b = defineStep({ name: "b", kind: "action", handler: async (x: number) => x * 2 });
const c = defineStep({ name: "c", kind: "query", handler: async (x: number) => x - 1 });

const appOf = (handler: (ctx: WorkflowContext, x: number) => Promise<number>) =>
  defineApp({ workflows: [defineWorkflow({ name: "wf", handler })], steps: [a, b, c] });

const original = appOf(async (ctx, x: number) => {
  const one = await ctx.step(a, x);
  await ctx.sleep(10);
  return ctx.step(b, one);
});

function history(status: HistoryExport["run"]["status"], steps: [string, string, string][]): HistoryExport {
  const at = "2026-01-01T00:00:00.000Z";
  return {
    format: HISTORY_FORMAT,
    exportedAt: at,
    run: {
      id: "01a21b00-2682-74de-ac16-8e89e0d6795a",
      workflowName: "wf",
      status,
      args: 1,
      result: status === "completed" ? 4 : null,
      error: null,
      generation: 1,
      shard: 0,
      appVersion: null,
      idempotencyKey: null,
      parentRunId: null,
      createdAt: at,
      updatedAt: at,
      completedAt: null,
    },
    steps: steps.map(([name, kind, stepStatus], i) => ({
      id: `s${i}`,
      generation: 1,
      seq: i + 1,
      name,
      kind,
      status: stepStatus as "completed",
      args: null,
      result: kind === "sleep" ? null : 2,
      error: null,
      attempt: 1,
      completionOrder: stepStatus === "running" ? "0" : String(i + 1),
      createdAt: at,
      startedAt: at,
      completedAt: stepStatus === "running" ? null : at,
      wakeAt: null,
      timeoutAt: null,
      eventName: null,
      childWorkflowName: null,
      childRunId: null,
    })),
    events: [],
    timers: [],
  };
}

const full: [string, string, string][] = [
  ["a", "action", "completed"],
  ["sleep", "sleep", "completed"],
  ["b", "action", "completed"],
];

describe("checkHistory", () => {
  it("accepts the code that recorded the history", async () => {
    expect(await checkHistory(original, history("completed", full))).toEqual({
      ok: true,
      replayedSteps: 3,
      outcome: "completed",
    });
    expect(await checkHistory(original, history("running", full.slice(0, 1)))).toMatchObject({
      ok: true,
      outcome: "waiting",
    });
  });

  it("names the first step where a changed workflow parts from the history", async () => {
    const renamed = appOf(async (ctx, x: number) => {
      const one = await ctx.step(c, x);
      await ctx.sleep(10);
      return ctx.step(b, one);
    });
    expect(await checkHistory(renamed, history("completed", full))).toEqual({
      ok: false,
      divergence: {
        seq: 1,
        expected: { name: "a", kind: "action" },
        actual: { name: "c", kind: "query" },
        message: 'step 1: the history has action "a" but the code calls query "c"',
      },
    });
    const shorter = appOf(async (ctx, x: number) => ctx.step(a, x));
    expect(await checkHistory(shorter, history("completed", full))).toMatchObject({
      ok: false,
      divergence: { seq: 2, expected: { name: "sleep", kind: "sleep" }, actual: null },
    });
  });

  it("lets a running run call steps past its history but not an ended one", async () => {
    const longer = appOf(async (ctx, x: number) => {
      const one = await ctx.step(a, x);
      await ctx.sleep(10);
      const two = await ctx.step(b, one);
      return ctx.step(c, two);
    });
    expect(await checkHistory(longer, history("running", full))).toMatchObject({ ok: true, outcome: "waiting" });
    expect(await checkHistory(longer, history("completed", full))).toMatchObject({
      ok: false,
      divergence: { seq: 4, expected: null, actual: { name: "c", kind: "query" } },
    });
  });

  it("reports a workflow the app no longer has as a divergence at step 0", async () => {
    const other = defineApp({ workflows: [defineWorkflow({ name: "other", handler: async () => 1 })], steps: [] });
    expect(await checkHistory(other, history("completed", full))).toMatchObject({
      ok: false,
      divergence: { seq: 0, message: 'workflow "wf" is not in the app' },
    });
  });
});

describe("parseHistory", () => {
  it("names the field that is wrong", () => {
    const good = history("completed", full);
    expect(parseHistory(JSON.parse(JSON.stringify(good)))).toEqual(good);
    expect(() => parseHistory({ ...good, format: "v0" })).toThrow(HistoryFormatError);
    expect(() => parseHistory({ ...good, run: { ...good.run, generation: "1" } })).toThrow("run.generation");
    const badStep = { ...good, steps: [{ ...good.steps[0], completionOrder: 3 }] };
    expect(() => parseHistory(badStep)).toThrow("steps[0].completionOrder");
    expect(() => parseHistory([])).toThrow("expected a JSON object");
  });
});
