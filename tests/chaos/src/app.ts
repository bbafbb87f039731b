// The chaos run's app module (WEFT_APP of its coordinators and executors): the pipeline's shape
// (extract; analyzeA ‖ analyzeB; summarize) with steps doing 0-50 ms of random work and failing
// now and then (retryable), each execution logged to the side-effect log with an execution id
// that its result carries.
import { randomUUID } from "node:crypto";
import { expectedSummary, type PipelineInput } from "@weft/example-pipeline";
import { defineApp, defineStep, defineWorkflow, type StepContext } from "@weft/sdk";
import { recordExecution } from "./side-effects.ts";

export { expectedSummary };

/** Chance that an attempt fails (only attempts 1 and 2, so the 3rd always succeeds). */
const failureRate = Number(process.env.WEFT_CHAOS_FAILURE_RATE ?? "0.03");
const maxWorkMs = Number(process.env.WEFT_CHAOS_MAX_WORK_MS ?? "50");

/**
 * CPU time each turn of the workflow spends (a coordinator started with WEFT_CHAOS_REPLAY_MS):
 * the coordinator that the chaos run pauses gets a few ms, so that a SIGSTOP aimed just after its
 * claim lands between the claim and the commit, and its late commit meets the fencing token.
 */
const replayMs = Number(process.env.WEFT_CHAOS_REPLAY_MS ?? "0");
function busyTurn(): void {
  if (replayMs <= 0) return;
  const end = performance.now() + replayMs;
  while (performance.now() < end) {
    // spin: stands for workflow code that takes time to run
  }
}

export interface Stamped<T> {
  value: T;
  exec: string;
}

export class InjectedFailure extends Error {}

function chaosStep<A, R>(name: string, compute: (args: A) => R) {
  return defineStep({
    name: `chaos.${name}`,
    kind: "mutation",
    retry: { maxAttempts: 4, initialBackoffMs: 20, backoffCoefficient: 2 },
    handler: async (args: A, ctx: StepContext): Promise<Stamped<R>> => {
      const exec = randomUUID();
      const base = { exec, stepId: ctx.stepId, runId: ctx.runId, name, attempt: ctx.attempt };
      recordExecution({ ...base, phase: "start" });
      await new Promise((resolve) => setTimeout(resolve, Math.random() * maxWorkMs));
      if (ctx.attempt < 3 && Math.random() < failureRate) {
        recordExecution({ ...base, phase: "fail" });
        throw new InjectedFailure(`injected failure of ${name} (attempt ${ctx.attempt})`);
      }
      const value = compute(args);
      recordExecution({ ...base, phase: "end" });
      return { value, exec };
    },
  });
}

const words = (text: string) => text.split(/\s+/).filter(Boolean);

const extract = chaosStep("extract", (input: PipelineInput) => ({ id: input.id, words: words(input.text) }));
const analyzeA = chaosStep("analyzeA", (a: { words: string[] }) => a.words.length);
const analyzeB = chaosStep("analyzeB", (a: { words: string[] }) => a.words.join("").length);
const summarize = chaosStep(
  "summarize",
  (s: { id: number; words: number; letters: number }) => `#${s.id}: ${s.words} words, ${s.letters} letters`,
);

export const chaosPipeline = defineWorkflow({
  name: "chaosPipeline",
  handler: async (ctx, input: PipelineInput): Promise<string> => {
    busyTurn();
    const a = await ctx.step(extract, input);
    busyTurn();
    const [A, B] = await Promise.all([ctx.step(analyzeA, a.value), ctx.step(analyzeB, a.value)]);
    busyTurn();
    const s = await ctx.step(summarize, { id: input.id, words: A.value, letters: B.value });
    busyTurn();
    return s.value;
  },
});

export default defineApp({
  version: "chaos-1",
  workflows: [chaosPipeline],
  steps: [extract, analyzeA, analyzeB, summarize],
});
