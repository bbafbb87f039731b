// The benchmark workflow: a = extract(input); analyzeA(a) ‖ analyzeB(a); summarize(A, B).
import { defineWorkflow } from "@weft/sdk";
import { analyzeA, analyzeB, extract, type PipelineInput, summarize } from "./steps.ts";

export const pipeline = defineWorkflow({
  name: "pipeline",
  handler: async (ctx, input: PipelineInput): Promise<string> => {
    const a = await ctx.step(extract, input);
    const [A, B] = await Promise.all([ctx.step(analyzeA, a), ctx.step(analyzeB, a)]);
    return ctx.step(summarize, { id: input.id, words: A.words, letters: B.letters, stepMs: input.stepMs });
  },
});
