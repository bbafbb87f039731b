// The benchmark's app module: the pipeline with per-step durations carried in the args (so every
// workload, including the seeded one, is one app), and a sequential workflow for the `long` shape.
import { defineApp, defineStep, defineWorkflow } from "@weft/sdk";

function wait(ms, signal) {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}
const step = (name, index) =>
  defineStep({
    name,
    kind: "action",
    handler: async (input, ctx) => {
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
  handler: async (ctx, input) => {
    const a = await ctx.step(extract, input);
    const [A, B] = await Promise.all([ctx.step(analyzeA, a), ctx.step(analyzeB, a)]);
    const s = await ctx.step(summarize, { text: `${A.text.length}:${B.text.length}`, ms: input.ms });
    return s.text;
  },
});
const noop = defineStep({ name: "bench.noop", kind: "action", handler: (i) => i + 1 });
export const sequence = defineWorkflow({
  name: "bench.sequence",
  handler: async (ctx, steps) => {
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
