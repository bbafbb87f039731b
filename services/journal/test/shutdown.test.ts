// RPCs answer before JetStream acks their tasks; stop() still waits for those publishes before the
// NATS connection drains, so a commit answered just before shutdown has every task in the stream.
import { encodePayload, StepKind, TurnStatus } from "@weft/contracts";
import { afterAll, beforeAll, expect, test } from "vitest";
import { claimRun, type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal shutdown");
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

test("a stop right after a commit loses none of its task publishes", async () => {
  const run = (await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(1) })).run;
  if (!run) throw new Error("no run");
  const claimed = await claimRun(h, run.id);
  const n = 200;
  const res = await h.internal.commitTurns({
    owner: "coordinator-1",
    turns: [
      {
        runId: run.id,
        leaseToken: claimed.leaseToken,
        generation: 1,
        newSteps: Array.from({ length: n }, (_, i) => ({ seq: i + 1, name: `s${i}`, kind: StepKind.ACTION })),
      },
    ],
  });
  expect(res.results[0]?.status).toBe(TurnStatus.COMMITTED);
  await h.journal.stop();
  // Every publish was acked (and counted) before stop() returned.
  const published = (await h.journal.metrics.tasksPublished.get()).values.find((v) => v.labels.reason === "dispatched");
  expect(published?.value).toBe(n);
  const tasks = await takeAllTasks(h, n);
  expect(new Set(tasks.map((t) => t.task.stepId)).size).toBe(n);
});
