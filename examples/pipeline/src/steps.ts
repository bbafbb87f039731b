// The pipeline's steps: pure functions of their input plus an optional simulated I/O wait, so
// that results can be checked and the workload (W0: no wait, W1: 50 ms, seed: 8-12 s) tuned.
import { defineStep } from "@weft/sdk";

export interface PipelineInput {
  id: number;
  text: string;
  /** Simulated I/O per step, in ms; a number, or one per step name. */
  stepMs?: number | Partial<Record<PipelineStepName, number>>;
}

export type PipelineStepName = "extract" | "analyzeA" | "analyzeB" | "summarize";

export interface Extracted {
  id: number;
  words: string[];
  stepMs?: PipelineInput["stepMs"];
}

function waitFor(name: PipelineStepName, stepMs: PipelineInput["stepMs"], signal: AbortSignal): Promise<void> {
  const ms = typeof stepMs === "number" ? stepMs : (stepMs?.[name] ?? 0);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export const extract = defineStep({
  name: "extract",
  kind: "action",
  retry: { maxAttempts: 3 },
  handler: async (input: PipelineInput, ctx): Promise<Extracted> => {
    await waitFor("extract", input.stepMs, ctx.signal);
    return { id: input.id, words: input.text.split(/\s+/).filter(Boolean), stepMs: input.stepMs };
  },
});

export const analyzeA = defineStep({
  name: "analyzeA",
  kind: "action",
  retry: { maxAttempts: 3 },
  handler: async (a: Extracted, ctx): Promise<{ words: number; startedAt: number; endedAt: number }> => {
    const startedAt = Date.now();
    await waitFor("analyzeA", a.stepMs, ctx.signal);
    return { words: a.words.length, startedAt, endedAt: Date.now() };
  },
});

export const analyzeB = defineStep({
  name: "analyzeB",
  kind: "action",
  retry: { maxAttempts: 3 },
  handler: async (a: Extracted, ctx): Promise<{ letters: number; startedAt: number; endedAt: number }> => {
    const startedAt = Date.now();
    await waitFor("analyzeB", a.stepMs, ctx.signal);
    return { letters: a.words.join("").length, startedAt, endedAt: Date.now() };
  },
});

export const summarize = defineStep({
  name: "summarize",
  kind: "action",
  retry: { maxAttempts: 3 },
  handler: async (
    input: { id: number; words: number; letters: number; stepMs?: PipelineInput["stepMs"] },
    ctx,
  ): Promise<string> => {
    await waitFor("summarize", input.stepMs, ctx.signal);
    return `#${input.id}: ${input.words} words, ${input.letters} letters`;
  },
});

/** What the pipeline must return for an input: the check the demo and the tests apply. */
export function expectedSummary(input: PipelineInput): string {
  const words = input.text.split(/\s+/).filter(Boolean);
  return `#${input.id}: ${words.length} words, ${words.join("").length} letters`;
}
