// App module of the executor benchmark: one step that returns its argument (pure executor overhead).
import { defineApp, defineStep, defineWorkflow } from "@weft/sdk";

const echo = defineStep({ name: "echo", kind: "query", handler: async (n: number) => ({ n }) });
const wf = defineWorkflow({ name: "bench", handler: async () => null });

export default defineApp({ version: "bench", workflows: [wf], steps: [echo] });
