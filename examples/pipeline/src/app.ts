// The pipeline app module: what services load through WEFT_APP.
import { defineApp } from "@weft/sdk";
import { analyzeA, analyzeB, extract, summarize } from "./steps.ts";
import { pipeline } from "./workflow.ts";

export default defineApp({
  version: "pipeline-1",
  workflows: [pipeline],
  steps: [extract, analyzeA, analyzeB, summarize],
});

export * from "./steps.ts";
export { pipeline };
