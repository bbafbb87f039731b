// The README's app example is real code: load it as an app module and replay the pipeline with it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { loadApp } from "./app.ts";
import { replayTurn } from "./workflow/replay-turn.ts";

const dir = mkdtempSync(join(tmpdir(), "weft-sdk-readme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("the README app example loads and replays", async () => {
  const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const appBlock = blocks.find((b) => b.includes("export default defineApp"));
  expect(appBlock).toBeDefined();
  const index = fileURLToPath(new URL("./index.ts", import.meta.url));
  const file = join(dir, "app.ts");
  writeFileSync(file, appBlock!.replace('from "@weft/sdk"', `from ${JSON.stringify(index)}`));
  const app = await loadApp(file);
  expect([...app.steps.keys()]).toEqual(["extract", "analyzeA", "analyzeB", "summarize"]);
  const run = { id: "r1", workflowName: "pipeline", args: "https://example.com", createdAtMs: 0 };
  const turn = await replayTurn(app, { run, steps: [] });
  expect(turn.newSteps).toEqual([{ seq: 1, name: "extract", kind: "action", args: "https://example.com" }]);
  expect(app.steps.get("extract")!.retry.maxAttempts).toBe(3);
  expect(app.workflows.get("pipeline")!.maxStepsInFlight).toBe(8);
});
