// The benchmark's app module: the pipeline with per-step durations carried in the args (so every
// workload, including the seeded one, is one app), and a sequential workflow for the `long` shape.
import { defineApp, defineStep, defineWorkflow } from "@weft/sdk";

export interface BenchInput {
  /** Payload of about 100 bytes, as in the peers' measurements. */
  text: string;
  /** Milliseconds each step waits (simulated I/O): extract, analyzeA, analyzeB, summarize. */
  ms: [number, number, number, number];
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

const step = (name: string, index: number) =>
  defineStep({
    name,
    kind: "action",
    handler: async (input: { text: string; ms: BenchInput["ms"] }, ctx) => {
      await wait(input.ms[index] ?? 0, ctx.signal);
      return { text: input.text, ms: input.ms };
    },
  });

const extract = step("bench.extract", 0);
const analyzeA = step("bench.analyzeA", 1);
const analyzeB = step("bench.analyzeB", 2);
const summarize = step("bench.summarize", 3);

export const pipeline = defineWorkflow({
  name: "bench.pipeline",
  handler: async (ctx, input: BenchInput) => {
    const a = await ctx.step(extract, input);
    const [A, B] = await Promise.all([ctx.step(analyzeA, a), ctx.step(analyzeB, a)]);
    const s = await ctx.step(summarize, { text: `${A.text.length}:${B.text.length}`, ms: input.ms });
    return s.text;
  },
});

const noop = defineStep({ name: "bench.noop", kind: "action", handler: (i: number) => i + 1 });

export const sequence = defineWorkflow({
  name: "bench.sequence",
  handler: async (ctx, steps: number) => {
    let value = 0;
    for (let i = 0; i < steps; i++) value = await ctx.step(noop, value);
    return value;
  },
});

export default defineApp({
  version: "bench-1",
  workflows: [pipeline, sequence],
  steps: [extract, analyzeA, analyzeB, summarize, noop],
});
