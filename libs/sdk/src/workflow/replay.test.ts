import { describe, expect, it } from "vitest";
import { defineApp } from "../app.ts";
import { ChildWorkflowFailedError, NonRetryableError, StepFailedError, TimeoutError } from "../errors.ts";
import { defineStep } from "../step.ts";
import { defineWorkflow } from "../workflow-definition.ts";
import { WorkflowExecution } from "./execution.ts";
import type { JournalStep, RunInfo, TurnOutcome } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";
import { simulate, stripStacks } from "./simulate.test-helper.ts";

const extract = defineStep({ name: "extract", kind: "action", handler: (input: string) => `text(${input})` });
const analyzeA = defineStep({ name: "analyzeA", kind: "action", handler: (t: string) => `A(${t})` });
const analyzeB = defineStep({ name: "analyzeB", kind: "action", handler: (t: string) => `B(${t})` });
const summarize = defineStep({
  name: "summarize",
  kind: "action",
  handler: ([a, b]: [string, string]) => `${a}+${b}`,
});
const pipeline = defineWorkflow({
  name: "pipeline",
  handler: async (ctx, input: string) => {
    const text = await ctx.step(extract, input);
    const [a, b] = await Promise.all([ctx.step(analyzeA, text), ctx.step(analyzeB, text)]);
    return ctx.step(summarize, [a, b] as [string, string]);
  },
});
const steps = [extract, analyzeA, analyzeB, summarize];

const run = (workflowName: string, id = "0190a0c0-0000-7000-8000-000000000001"): RunInfo => ({
  id,
  workflowName,
  args: "doc",
  createdAtMs: 1_000_000,
});

let order = 0;
const running = (seq: number, kind: JournalStep["kind"], name: string): JournalStep => ({
  seq,
  name,
  kind,
  status: "running",
  completionOrder: 0,
});
const completed = (
  seq: number,
  kind: JournalStep["kind"],
  name: string,
  result: unknown,
  at?: number,
): JournalStep => ({
  seq,
  name,
  kind,
  status: "completed",
  result,
  completionOrder: BigInt(++order),
  ...(at === undefined ? {} : { completedAtMs: at }),
});
const failed = (
  seq: number,
  kind: JournalStep["kind"],
  name: string,
  failure: { name: string; message: string },
): JournalStep => ({
  seq,
  name,
  kind,
  status: "failed",
  failure,
  completionOrder: BigInt(++order),
});

/** Replays the journal from scratch and through a live execution fed turn by turn; both must agree. */
async function turns(app: ReturnType<typeof defineApp>, r: RunInfo, journals: JournalStep[][]): Promise<TurnOutcome[]> {
  const live = new WorkflowExecution(app, r);
  const out: TurnOutcome[] = [];
  for (const journal of journals) {
    const fresh = await replayTurn(app, { run: r, steps: journal });
    const incremental = await live.apply(journal);
    expect(stripStacks(incremental)).toEqual(stripStacks(fresh));
    out.push(fresh);
  }
  return out;
}

describe("replay: the pipeline turn by turn", () => {
  const app = defineApp({ workflows: [pipeline], steps });
  it("requests extract, then analyzeA and analyzeB together, then summarize, then completes", async () => {
    const e = completed(1, "action", "extract", "text(doc)");
    const a = completed(2, "action", "analyzeA", "A");
    const b = completed(3, "action", "analyzeB", "B");
    const s = completed(4, "action", "summarize", "A+B");
    const out = await turns(app, run("pipeline"), [
      [],
      [running(1, "action", "extract")],
      [e],
      [e, running(2, "action", "analyzeA"), running(3, "action", "analyzeB")],
      [e, a, running(3, "action", "analyzeB")],
      [e, a, b],
      [e, a, b, running(4, "action", "summarize")],
      [e, a, b, s],
    ]);
    expect(out[0]).toEqual({ newSteps: [{ seq: 1, name: "extract", kind: "action", args: "doc" }] });
    expect(out[1]).toEqual({ newSteps: [] });
    expect(out[2]).toEqual({
      newSteps: [
        { seq: 2, name: "analyzeA", kind: "action", args: "text(doc)" },
        { seq: 3, name: "analyzeB", kind: "action", args: "text(doc)" },
      ],
    });
    expect(out[3]).toEqual({ newSteps: [] });
    expect(out[4]).toEqual({ newSteps: [] });
    expect(out[5]).toEqual({ newSteps: [{ seq: 4, name: "summarize", kind: "action", args: ["A", "B"] }] });
    expect(out[6]).toEqual({ newSteps: [] });
    expect(out[7]).toEqual({ newSteps: [], completion: { result: "A+B" } });
  });

  it("runs to the same end through the simulated journal with any interleaving", async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { outcome } = await simulate(app, run("pipeline"), seed);
      expect(outcome.completion).toEqual({ result: "A(text(doc))+B(text(doc))" });
    }
  });
});

describe("replay: Promise.race of a step and a sleep", () => {
  const slow = defineStep({ name: "slow", kind: "query", handler: () => "slow-result" });
  const fallback = defineStep({ name: "fallback", kind: "query", handler: () => "fallback-result" });
  const racer = defineWorkflow({
    name: "racer",
    handler: async (ctx) => {
      const winner = await Promise.race([
        ctx.step(slow, null).then((v) => ({ step: v })),
        ctx.sleep(1000).then(() => "timeout" as const),
      ]);
      if (winner === "timeout") return { fallback: await ctx.step(fallback, null) };
      return winner;
    },
  });
  const app = defineApp({ workflows: [racer], steps: [slow, fallback] });
  const r = run("racer");

  it("requests both at once, with the sleep's wake time from ctx.now()", async () => {
    const [first] = await turns(app, r, [[]]);
    expect(first!.newSteps).toEqual([
      { seq: 1, name: "slow", kind: "query", args: null },
      { seq: 2, name: "sleep", kind: "sleep", args: null, wakeAtMs: 1_001_000 },
    ]);
  });

  it("the step wins when it completed first", async () => {
    const step = completed(1, "query", "slow", "slow-result");
    const sleep = completed(2, "sleep", "sleep", null);
    const out = await turns(app, r, [[], [step, running(2, "sleep", "sleep")], [step, sleep]]);
    expect(out[1]).toEqual({ newSteps: [], completion: { result: { step: "slow-result" } } });
    expect(out[2]).toEqual({ newSteps: [], completion: { result: { step: "slow-result" } } });
  });

  it("the sleep wins when it completed first, even once the step completed too", async () => {
    const sleep = completed(2, "sleep", "sleep", null);
    const step = completed(1, "query", "slow", "slow-result");
    const out = await turns(app, r, [
      [],
      [running(1, "query", "slow"), sleep],
      [step, sleep, running(3, "query", "fallback")],
      [step, sleep, completed(3, "query", "fallback", "fb")],
    ]);
    expect(out[1]).toEqual({ newSteps: [{ seq: 3, name: "fallback", kind: "query", args: null }] });
    expect(out[2]).toEqual({ newSteps: [] });
    expect(out[3]).toEqual({ newSteps: [], completion: { result: { fallback: "fb" } } });
  });
});

describe("replay: events with a timeout", () => {
  const approval = defineWorkflow({
    name: "approval",
    handler: async (ctx) => {
      try {
        const decision = await ctx.awaitEvent<{ ok: boolean }>("approve", { timeoutMs: 5000 });
        return decision.ok ? "approved" : "rejected";
      } catch (err) {
        if (err instanceof TimeoutError) return "timed out";
        throw err;
      }
    },
  });
  const app = defineApp({ workflows: [approval], steps: [] });
  const r = run("approval");

  it("requests an event wait with its timeout and resolves with the payload", async () => {
    const out = await turns(app, r, [[], [completed(1, "event", "approve", { ok: true })]]);
    expect(out[0]!.newSteps).toEqual([
      { seq: 1, name: "approve", kind: "event", args: null, eventName: "approve", timeoutAtMs: 1_005_000 },
    ]);
    expect(out[1]!.completion).toEqual({ result: "approved" });
  });

  it("rejects with TimeoutError when the journal timed the wait out", async () => {
    const out = await turns(app, r, [[failed(1, "event", "approve", { name: "TimeoutError", message: "no event" })]]);
    expect(out[0]!.completion).toEqual({ result: "timed out" });
  });
});

describe("replay: child workflows", () => {
  const child = defineWorkflow({ name: "child", handler: async (_ctx, n: number) => n * 2 });
  const parent = defineWorkflow({
    name: "parent",
    handler: async (ctx) => {
      try {
        return await ctx.child(child, 21);
      } catch (err) {
        if (err instanceof ChildWorkflowFailedError) return `child failed: ${err.failure.name}: ${err.failure.message}`;
        throw err;
      }
    },
  });
  const app = defineApp({ workflows: [parent, child], steps: [] });
  const r = run("parent");

  it("requests the child and resolves with its result", async () => {
    const out = await turns(app, r, [[], [{ ...completed(1, "child", "child", 42), childRunId: "c1" }]]);
    expect(out[0]!.newSteps).toEqual([{ seq: 1, name: "child", kind: "child", args: 21, childWorkflowName: "child" }]);
    expect(out[1]!.completion).toEqual({ result: 42 });
  });

  it("rejects with ChildWorkflowFailedError carrying the child's failure", async () => {
    const out = await turns(app, r, [[failed(1, "child", "child", { name: "CanceledError", message: "stop" })]]);
    expect(out[0]!.completion).toEqual({ result: "child failed: CanceledError: stop" });
  });
});

describe("replay: non-determinism", () => {
  const app = defineApp({ workflows: [pipeline], steps });

  it("names both the code's call and the journal's entry", async () => {
    const journal = [
      completed(1, "action", "extract", "t"),
      running(2, "action", "analyzeB"),
      running(3, "action", "analyzeA"),
    ];
    const out = await turns(app, run("pipeline"), [journal]);
    const completion = out[0]!.completion as { failure: { name: string; message: string } };
    expect(completion.failure.name).toBe("NonDeterminismError");
    expect(completion.failure.message).toBe(
      'step 2: the code called action "analyzeA" but the journal has action "analyzeB"',
    );
    expect(out[0]!.newSteps).toEqual([]);
  });

  it("fails when the journal has steps the completed code never called", async () => {
    const short = defineWorkflow({ name: "short", handler: async (ctx) => ctx.step(extract, "x") });
    const shortApp = defineApp({ workflows: [short], steps });
    const out = await turns(shortApp, run("short"), [
      [completed(1, "action", "extract", "t"), running(2, "action", "analyzeA")],
    ]);
    const completion = out[0]!.completion as { failure: { name: string; message: string } };
    expect(completion.failure.name).toBe("NonDeterminismError");
    expect(completion.failure.message).toMatch(
      /step 2: the journal has action "analyzeA" but the code completed after 1 step call/,
    );
  });

  it("alwaysReplay catches Math.random() in workflow code", async () => {
    const flaky = defineWorkflow({
      name: "flaky",
      handler: async (ctx) => ctx.step(extract, String(Math.random())),
    });
    const flakyApp = defineApp({ workflows: [flaky], steps });
    const out = await replayTurn(flakyApp, { run: run("flaky"), steps: [], alwaysReplay: true });
    expect(out.completion && "failure" in out.completion && out.completion.failure.name).toBe("NonDeterminismError");
    const ok = await replayTurn(app, { run: run("pipeline"), steps: [], alwaysReplay: true });
    expect(ok.newSteps).toHaveLength(1);
  });
});

describe("replay: maxStepsInFlight", () => {
  const work = defineStep({ name: "work", kind: "query", handler: (i: number) => i * i });
  const fanout = defineWorkflow({
    name: "fanout",
    maxStepsInFlight: 10,
    handler: async (ctx) => {
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => ctx.step(work, i)));
      await ctx.sleep(5); // not an executor step: never held back by the cap
      return results.reduce((a, b) => a + b, 0);
    },
  });
  const app = defineApp({ workflows: [fanout], steps: [work] });
  const r = run("fanout");

  it("requests at most 10 executor steps at once, lower seq first", async () => {
    const first = await replayTurn(app, { run: r, steps: [] });
    expect(first.newSteps.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const journal: JournalStep[] = first.newSteps.map((s) => running(s.seq, "query", "work"));
    journal[2] = completed(3, "query", "work", 4);
    journal[6] = completed(7, "query", "work", 36);
    const second = await replayTurn(app, { run: r, steps: journal });
    expect(second.newSteps.map((s) => s.seq)).toEqual([11, 12]);
    expect(second.newSteps[0]!.args).toBe(10);
  });

  it("finishes a fan-out of 100 under the cap, fresh and live agreeing on every turn", async () => {
    const { outcome, maxRunning, journal } = await simulate(app, r, 7);
    expect(outcome.completion).toEqual({
      result: Array.from({ length: 100 }, (_, i) => i * i).reduce((a, b) => a + b),
    });
    expect(maxRunning).toBeLessThanOrEqual(10);
    expect(journal).toHaveLength(101);
  });
});

describe("replay: ctx.now() and ctx.random()", () => {
  const record = defineStep({ name: "record", kind: "mutation", handler: (v: unknown) => v });
  const clocked = defineWorkflow({
    name: "clocked",
    handler: async (ctx) => {
      const t0 = ctx.now();
      const r0 = ctx.random();
      await ctx.step(record, { t0, r0 });
      const t1 = ctx.now();
      const r1 = ctx.random();
      await ctx.step(record, { t1, r1 });
      return { t0, r0, t1, r1, id: ctx.runId, wf: ctx.workflowName };
    },
  });
  const app = defineApp({ workflows: [clocked], steps: [record] });

  it("are the same on every replay and follow the journal's completion times", async () => {
    const r = run("clocked");
    const first = await replayTurn(app, { run: r, steps: [] });
    const again = await replayTurn(app, { run: r, steps: [] });
    expect(first).toEqual(again);
    const { t0, r0 } = first.newSteps[0]!.args as { t0: number; r0: number };
    expect(t0).toBe(1_000_000);
    expect(r0).toBeGreaterThanOrEqual(0);
    expect(r0).toBeLessThan(1);
    const journal = [
      completed(1, "mutation", "record", null, 1_000_500),
      completed(2, "mutation", "record", null, 1_000_900),
    ];
    const done = await replayTurn(app, { run: r, steps: journal });
    const result = (done.completion as { result: Record<string, unknown> }).result;
    expect(result).toMatchObject({ t0: 1_000_000, r0, t1: 1_000_500, id: r.id, wf: "clocked" });
    expect(result.r1).not.toBe(r0);
    const other = await replayTurn(app, { run: run("clocked", "another-run"), steps: [] });
    expect((other.newSteps[0]!.args as { r0: number }).r0).not.toBe(r0);
  });
});

describe("replay: failures inside workflow code", () => {
  const charge = defineStep({
    name: "charge",
    kind: "action",
    handler: () => {
      throw new NonRetryableError("card declined");
    },
  });
  const refund = defineStep({ name: "refund", kind: "mutation", handler: () => "refunded" });
  const checkout = defineWorkflow({
    name: "checkout",
    handler: async (ctx) => {
      try {
        await ctx.step(charge, { amount: 5 });
        return "charged";
      } catch (err) {
        if (!(err instanceof StepFailedError)) throw err;
        return `${err.failure.name}: ${err.failure.message} -> ${await ctx.step(refund, null)}`;
      }
    },
  });
  const strict = defineWorkflow({ name: "strict", handler: async (ctx) => ctx.step(charge, {}) });
  const app = defineApp({ workflows: [checkout, strict], steps: [charge, refund] });

  it("a workflow can catch a StepFailedError and carry on", async () => {
    const { outcome } = await simulate(app, run("checkout"));
    expect(outcome.completion).toEqual({ result: "NonRetryableError: card declined -> refunded" });
  });

  it("an uncaught step failure fails the run with StepFailedError", async () => {
    const { outcome } = await simulate(app, run("strict"));
    const failure = (outcome.completion as { failure: { name: string; message: string } }).failure;
    expect(failure.name).toBe("StepFailedError");
    expect(failure.message).toContain("card declined");
  });

  it("calling an unregistered step fails the run with a message naming it", async () => {
    const stray = defineStep({ name: "stray", kind: "query", handler: () => 1 });
    const wf = defineWorkflow({ name: "wf", handler: async (ctx) => ctx.step(stray, null) });
    const out = await replayTurn(defineApp({ workflows: [wf], steps: [] }), { run: run("wf"), steps: [] });
    const failure = (out.completion as { failure: { name: string; message: string } }).failure;
    expect(failure.message).toMatch(/step "stray", which is not registered/);
  });
});

describe("replay: fire-and-forget calls", () => {
  it("a never-awaited step that fails does not surface as an unhandled rejection", async () => {
    const boom = defineStep({ name: "boom", kind: "action", handler: () => 1 });
    const wf = defineWorkflow({
      name: "forget",
      handler: async (ctx) => {
        void ctx.step(boom, null);
        await ctx.sleep(10);
        return "done";
      },
    });
    const app = defineApp({ workflows: [wf], steps: [boom] });
    const out = await replayTurn(app, {
      run: run("forget"),
      steps: [failed(1, "action", "boom", { name: "Error", message: "x" }), completed(2, "sleep", "sleep", null)],
    });
    expect(out.completion).toEqual({ result: "done" });
  });
});
