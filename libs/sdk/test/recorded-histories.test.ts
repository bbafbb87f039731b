// Recorded histories replayed against today's workflow code (STYLE 18): a change to workflow code
// that would break runs in flight fails here, through fresh replay and through the live cache.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defineApp, defineStep, defineWorkflow } from "../src/index.ts";
import { ExecutionCache, type JournalStep, type RunInfo, replayTurn, type TurnOutcome } from "../src/workflow/index.ts";

const extract = defineStep({ name: "extract", kind: "action", handler: (url: string) => url });
const analyzeA = defineStep({ name: "analyzeA", kind: "action", handler: (t: string) => `A(${t.length})` });
const analyzeB = defineStep({ name: "analyzeB", kind: "action", handler: (t: string) => `B(${t.length})` });
const summarize = defineStep({
  name: "summarize",
  kind: "query",
  handler: ([a, b]: [string, string]) => `${a} & ${b}`,
});
const pipeline = defineWorkflow({
  name: "pipeline",
  handler: async (ctx, url: string) => {
    const text = await ctx.step(extract, url);
    const [a, b] = await Promise.all([ctx.step(analyzeA, text), ctx.step(analyzeB, text)]);
    return ctx.step(summarize, [a, b] as [string, string]);
  },
});
const app = defineApp({ workflows: [pipeline], steps: [extract, analyzeA, analyzeB, summarize] });

interface Recorded {
  run: RunInfo;
  turns: { steps: JournalStep[]; expect: TurnOutcome }[];
}

const dir = new URL("./fixtures/", import.meta.url);
describe("recorded histories", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith("-history.json"))) {
    it(`${file} replays turn by turn`, async () => {
      const recorded = JSON.parse(readFileSync(new URL(file, dir), "utf8")) as Recorded;
      const cache = new ExecutionCache(app);
      for (const [i, turn] of recorded.turns.entries()) {
        const input = { run: recorded.run, steps: turn.steps };
        expect(await replayTurn(app, input), `turn ${i + 1}`).toEqual(turn.expect);
        expect(await cache.turn(input), `turn ${i + 1} (live)`).toEqual(turn.expect);
      }
    });
  }
});
