// ctx.patched / ctx.deprecatePatch: in-place code changes. Old runs that went past the patch point
// without the marker take the old branch; new runs journal the marker and take the new one; a
// changed step sequence without a patch still fails naming both steps. And the execution cache
// drops a live execution when the run's generation changes (reset).
import { describe, expect, it } from "vitest";
import { defineApp } from "../app.ts";
import { defineStep } from "../step.ts";
import { defineWorkflow, type WorkflowContext } from "../workflow-definition.ts";
import { ExecutionCache } from "./execution-cache.ts";
import type { JournalStep, RunInfo } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";
import { simulate } from "./simulate.test-helper.ts";

const action = (name: string) => defineStep({ name, kind: "action", handler: (t: string) => `${name}(${t})` });
const extract = action("extract");
const enrich = action("enrich");
const analyzeA = action("analyzeA");
const analyzeB = action("analyzeB");
const analyzeBeta = action("analyzeBeta");
const steps = [extract, enrich, analyzeA, analyzeB, analyzeBeta];

/** v1: extract, analyzeA, analyzeB, then waits for "go". */
async function oldCode(ctx: WorkflowContext, input: string) {
  const text = await ctx.step(extract, input);
  const a = await ctx.step(analyzeA, text);
  const b = await ctx.step(analyzeB, text);
  await ctx.awaitEvent("go");
  return [a, b];
}

/** v2: adds enrich, reorders the analyses and renames analyzeB to analyzeBeta. */
async function newCode(ctx: WorkflowContext, text: string) {
  const enriched = await ctx.step(enrich, text);
  const b = await ctx.step(analyzeBeta, enriched);
  const a = await ctx.step(analyzeA, enriched);
  await ctx.awaitEvent("go");
  return [a, b];
}

const appOf = (handler: (ctx: WorkflowContext, input: string) => Promise<string[]>) =>
  defineApp({ workflows: [defineWorkflow({ name: "doc", handler })], steps });

const oldApp = appOf(oldCode);
const patchedApp = appOf(async (ctx, input) => {
  const text = await ctx.step(extract, input);
  if (ctx.patched("v2-analysis")) return newCode(ctx, text);
  const a = await ctx.step(analyzeA, text);
  const b = await ctx.step(analyzeB, text);
  await ctx.awaitEvent("go");
  return [a, b];
});
const deprecatedApp = appOf(async (ctx, input) => {
  const text = await ctx.step(extract, input);
  ctx.deprecatePatch("v2-analysis");
  return newCode(ctx, text);
});
const unpatched = (change: "add" | "reorder" | "rename") =>
  appOf(async (ctx, input) => {
    const text = await ctx.step(extract, input);
    if (change === "add") await ctx.step(enrich, text);
    const first = change === "reorder" ? analyzeB : analyzeA;
    const second = change === "reorder" ? analyzeA : change === "rename" ? analyzeBeta : analyzeB;
    const x = await ctx.step(first, text);
    const y = await ctx.step(second, text);
    await ctx.awaitEvent("go");
    return [x, y];
  });

const run: RunInfo = { id: "0190a0c0-0000-7000-8000-0000000000aa", workflowName: "doc", args: "doc", createdAtMs: 1 };

let order = 0;
const done = (seq: number, kind: JournalStep["kind"], name: string, result: unknown = null): JournalStep => ({
  seq,
  name,
  kind,
  status: "completed",
  result,
  completionOrder: BigInt(++order),
});
const waiting = (seq: number, kind: JournalStep["kind"], name: string): JournalStep => ({
  seq,
  name,
  kind,
  status: "running",
  completionOrder: 0,
});

/** An old run in flight: past the analyses, waiting for "go" (v1's journal). */
const oldJournal = (): JournalStep[] => [
  done(1, "action", "extract", "extract(doc)"),
  done(2, "action", "analyzeA", "analyzeA(extract(doc))"),
  done(3, "action", "analyzeB", "analyzeB(extract(doc))"),
  waiting(4, "event", "go"),
];
const go = (journal: JournalStep[]) => journal.map((s) => (s.kind === "event" ? done(s.seq, "event", "go") : s));

describe("ctx.patched", () => {
  it("an in-flight old run takes the old branch and finishes as v1 would", async () => {
    const out = await replayTurn(patchedApp, { run, steps: go(oldJournal()) });
    expect(out.completion).toEqual({ result: ["analyzeA(extract(doc))", "analyzeB(extract(doc))"] });
    expect(out.newSteps).toEqual([]);
  });

  it("a new run journals the marker and takes the new branch (add, reorder, rename)", async () => {
    const result = await simulate(patchedApp, run);
    expect(result.journal.map((s) => [s.seq, s.kind, s.name])).toEqual([
      [1, "action", "extract"],
      [2, "patch", "v2-analysis"],
      [3, "action", "enrich"],
      [4, "action", "analyzeBeta"],
      [5, "action", "analyzeA"],
      [6, "event", "go"],
    ]);
    expect(result.outcome.completion).toEqual({
      result: ["analyzeA(enrich(extract(doc)))", "analyzeBeta(enrich(extract(doc)))"],
    });
  });

  it("the marker is journaled with the turn that reached it, together with the next step", async () => {
    const out = await replayTurn(patchedApp, { run, steps: [done(1, "action", "extract", "t")] });
    expect(out.newSteps.map((s) => [s.seq, s.kind, s.name])).toEqual([
      [2, "patch", "v2-analysis"],
      [3, "action", "enrich"],
    ]);
  });

  it("deprecatePatch replays runs that recorded the marker and records it for new runs", async () => {
    const recorded = await simulate(patchedApp, run);
    const again = await replayTurn(deprecatedApp, { run, steps: recorded.journal });
    expect(again.completion).toEqual(recorded.outcome.completion);
    const fresh = await simulate(deprecatedApp, run);
    expect(fresh.journal[1]).toMatchObject({ seq: 2, kind: "patch", name: "v2-analysis" });
  });

  it("removing a patch whose marker runs still have fails naming the marker", async () => {
    const recorded = await simulate(patchedApp, run);
    const out = await replayTurn(
      appOf(async (ctx, input) => newCode(ctx, await ctx.step(extract, input))),
      { run, steps: recorded.journal },
    );
    const failure = out.completion && "failure" in out.completion ? out.completion.failure : undefined;
    expect(failure?.name).toBe("NonDeterminismError");
    expect(failure?.message).toContain('patch "v2-analysis"');
  });

  it("rejects an invalid change id", async () => {
    const app = appOf(async (ctx) => [String(ctx.patched("has space"))]);
    const out = await replayTurn(app, { run, steps: [] });
    expect(out.completion && "failure" in out.completion && out.completion.failure.name).toBe("RangeError");
  });
});

describe("a changed step sequence without a patch", () => {
  const cases = [
    ["add", 'action "enrich"', 'action "analyzeA"'],
    ["reorder", 'action "analyzeB"', 'action "analyzeA"'],
    ["rename", 'action "analyzeBeta"', 'action "analyzeB"'],
  ] as const;
  for (const [change, called, journaled] of cases) {
    it(`${change}: fails the old run with NonDeterminismError naming both steps`, async () => {
      const out = await replayTurn(unpatched(change), { run, steps: go(oldJournal()) });
      const failure = out.completion && "failure" in out.completion ? out.completion.failure : undefined;
      expect(failure?.name).toBe("NonDeterminismError");
      expect(failure?.message).toContain(`the code called ${called}`);
      expect(failure?.message).toContain(`the journal has ${journaled}`);
    });
  }

  it("old code still replays its own journal", async () => {
    const out = await replayTurn(oldApp, { run, steps: go(oldJournal()) });
    expect(out.completion).toEqual({ result: ["analyzeA(extract(doc))", "analyzeB(extract(doc))"] });
  });
});

describe("execution cache and resets", () => {
  it("drops a live execution when the run's generation changes", async () => {
    const cache = new ExecutionCache(oldApp);
    const journal = oldJournal();
    await cache.turn({ run: { ...run, generation: 1 }, steps: journal });
    await cache.turn({ run: { ...run, generation: 1 }, steps: journal });
    expect(cache.stats).toEqual({ hits: 1, misses: 1, stale: 0 });
    // Reset to generation 2 from seq 3: the journal keeps seq 1-2 only.
    const out = await cache.turn({ run: { ...run, generation: 2 }, steps: journal.slice(0, 2) });
    expect(cache.stats).toEqual({ hits: 1, misses: 2, stale: 1 });
    expect(out.newSteps.map((s) => [s.seq, s.name])).toEqual([[3, "analyzeB"]]);
  });
});
