import { describe, expect, it } from "vitest";
import { defineApp } from "../app.ts";
import { defineStep } from "../step.ts";
import { defineWorkflow } from "../workflow-definition.ts";
import { StaleExecutionError, WorkflowExecution } from "./execution.ts";
import { ExecutionCache, FullJournalNeededError } from "./execution-cache.ts";
import type { JournalStep, RunInfo } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";
import { simulate } from "./simulate.test-helper.ts";

const inc = defineStep({ name: "inc", kind: "mutation", handler: (n: number) => n + 1 });
const counter = defineWorkflow({
  name: "counter",
  handler: async (ctx, steps: number) => {
    let n = 0;
    for (let i = 0; i < steps; i++) n = await ctx.step(inc, n);
    return n;
  },
});
const first = defineStep({ name: "first", kind: "query", handler: () => "first" });
const second = defineStep({ name: "second", kind: "query", handler: () => "second" });
const race = defineWorkflow({
  name: "race",
  handler: async (ctx) => Promise.race([ctx.step(first, null), ctx.step(second, null)]),
});
const app = defineApp({ workflows: [counter, race], steps: [inc, first, second] });
const run = (workflowName: string, args: unknown = null): RunInfo => ({
  id: `run-${workflowName}`,
  workflowName,
  args,
  createdAtMs: 0,
});
const step = (
  seq: number,
  name: string,
  status: JournalStep["status"],
  order: number,
  result?: unknown,
): JournalStep => ({
  seq,
  name,
  kind: name === "inc" ? "mutation" : "query",
  status,
  completionOrder: order,
  ...(result === undefined ? {} : { result }),
});

describe("ExecutionCache", () => {
  it("serves later turns from the live execution with the same outcomes as a fresh replay", async () => {
    const cache = new ExecutionCache(app);
    const r = run("counter", 3);
    const journal: JournalStep[] = [];
    for (let turn = 0; turn < 3; turn++) {
      const fresh = await replayTurn(app, { run: r, steps: journal });
      expect(await cache.turn({ run: r, steps: journal })).toEqual(fresh);
      journal.push(step(turn + 1, "inc", "completed", turn + 1, turn + 1));
    }
    expect(await cache.turn({ run: r, steps: journal })).toEqual({ newSteps: [], completion: { result: 3 } });
    expect(cache.stats).toEqual({ hits: 3, misses: 1, stale: 0 });
    expect(cache.size).toBe(0); // ended runs are dropped
  });

  it("replays from scratch when the journal has an outcome ordered before one already delivered", async () => {
    const cache = new ExecutionCache(app);
    const r = run("race");
    await cache.turn({ run: r, steps: [] });
    // This coordinator first saw "second" finish (order 9)...
    const seen = await cache.turn({
      run: r,
      steps: [step(1, "first", "running", 0), step(2, "second", "completed", 9, "second")],
    });
    expect(seen.completion).toEqual({ result: "second" });
    // ...a fresh execution given an earlier-ordered "first" must not reuse the live one.
    const live = new WorkflowExecution(app, r);
    await live.apply([step(1, "first", "running", 0), step(2, "second", "running", 0)]);
    await live.apply([step(2, "second", "completed", 9, "second")]);
    await expect(live.apply([step(1, "first", "completed", 5, "first")])).rejects.toBeInstanceOf(StaleExecutionError);
  });

  it("replaces a live execution whose journal lost steps (e.g. a reset)", async () => {
    const cache = new ExecutionCache(app);
    const r = run("counter", 2);
    await cache.turn({ run: r, steps: [] });
    await cache.turn({ run: r, steps: [step(1, "inc", "completed", 1, 1)] });
    const outcome = await cache.turn({ run: r, steps: [] });
    expect(outcome.newSteps.map((s) => s.seq)).toEqual([1]);
    expect(cache.stats.stale).toBe(1);
  });

  it("keeps at most maxRuns executions and bypasses the cache with alwaysReplay", async () => {
    const cache = new ExecutionCache(app, { maxRuns: 2 });
    for (const id of ["a", "b", "c"]) await cache.turn({ run: { ...run("counter", 5), id }, steps: [] });
    expect(cache.size).toBe(2);
    await cache.turn({ run: { ...run("counter", 5), id: "b" }, steps: [], alwaysReplay: true });
    expect(cache.size).toBe(1);
  });

  it("keeps a 256-step sequential run correct through the simulated journal", async () => {
    const { outcome, turns } = await simulate(app, run("counter", 256));
    expect(outcome.completion).toEqual({ result: 256 });
    expect(turns).toBeGreaterThan(256);
  }, 60_000);

  it("serves partial claims (new outcomes only) from the execution that took the previous claim", async () => {
    const cache = new ExecutionCache(app);
    const r = run("counter", 3);
    const journal: JournalStep[] = [];
    let delta: JournalStep[] = [];
    for (let claim = 1; claim <= 3; claim++) {
      const fresh = await replayTurn(app, { run: r, steps: journal });
      const steps = claim === 1 ? journal : delta;
      expect(await cache.turn({ run: r, steps, claim: { number: claim, partial: claim > 1 } })).toEqual(fresh);
      const done = step(claim, "inc", "completed", claim, claim);
      journal.push(done);
      delta = [done];
    }
    expect(await cache.turn({ run: r, steps: delta, claim: { number: 4, partial: true } })).toEqual({
      newSteps: [],
      completion: { result: 3 },
    });
    expect(cache.stats).toEqual({ hits: 3, misses: 1, stale: 0 });
  });

  it("asks for the full journal when a partial claim does not continue its live execution", async () => {
    const cache = new ExecutionCache(app);
    const r = run("counter", 3);
    const partial = { run: r, steps: [step(1, "inc", "completed", 1, 1)], claim: { number: 2, partial: true } };
    // No live execution at all.
    await expect(cache.turn(partial)).rejects.toBeInstanceOf(FullJournalNeededError);
    // A live execution that took claim 1, offered claim 3 (claim 2 went elsewhere).
    await cache.turn({ run: r, steps: [], claim: { number: 1, partial: false } });
    expect(cache.continues(r.id, 2)).toBe(true);
    await expect(cache.turn({ ...partial, claim: { number: 3, partial: true } })).rejects.toBeInstanceOf(
      FullJournalNeededError,
    );
    // The determinism test mode never uses a live execution.
    await expect(cache.turn({ ...partial, alwaysReplay: true })).rejects.toBeInstanceOf(FullJournalNeededError);
  });
});
