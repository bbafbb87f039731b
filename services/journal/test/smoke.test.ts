import { afterAll, beforeAll, expect, test } from "vitest";
import { encodePayload } from "@weft/contracts";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal smoke");
});
afterAll(async () => {
  await h?.close();
});

test("start", async () => {
  await h.internal.registerWorker({ workerId: "w1", workflows: [{ name: "pipeline" }] });
  const res = await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload({ a: 1 }) });
  expect(res.run?.id).toBeTruthy();
  const claimed = await h.internal.claimRuns({ owner: "c1", maxRuns: 10, leaseMs: 5000 });
  expect(claimed.runs.length).toBe(1);
});
