// The hot paths are batched: ClaimRuns, CommitTurns and RecordResultBatch issue the same number of
// SQL statements for 1 item as for 60.
import { encodePayload, ResultStatus, StepKind, TurnStatus } from "@weft/contracts";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
const statements: string[] = [];
beforeAll(async () => {
  h = await startHarness("journal statement count", {}, { onQuery: (sql) => statements.push(sql) });
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; count: number }> {
  statements.length = 0;
  const value = await fn();
  // Background loops run beside the call: leave out their statements and every begin/commit.
  const counted = statements.filter(
    (s) =>
      !s.includes("/* timers */") &&
      !s.includes("/* sweeper */") &&
      !s.includes("/* retention */") &&
      !/^\s*(begin|commit)\b/i.test(s),
  );
  const count = counted.length;
  return { value, count };
}

async function roundTrip(n: number) {
  for (let i = 0; i < n; i++) await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(i) });
  const claim = await measure(() => h.internal.claimRuns({ owner: "c", maxRuns: 1000, leaseMs: 10_000 }));
  expect(claim.value.runs.length).toBe(n);
  const commit = await measure(() =>
    h.internal.commitTurns({
      owner: "c",
      turns: claim.value.runs.map((r) => ({
        runId: r.run?.id ?? "",
        leaseToken: r.leaseToken,
        generation: 1,
        newSteps: [
          { seq: 1, name: "analyzeA", kind: StepKind.ACTION },
          { seq: 2, name: "analyzeB", kind: StepKind.ACTION },
        ],
      })),
    }),
  );
  expect(commit.value.results.every((r) => r.status === TurnStatus.COMMITTED)).toBe(true);
  const tasks = await takeAllTasks(h, 2 * n);
  expect(tasks.length).toBe(2 * n);
  const record = await measure(() =>
    h.internal.recordResultBatch({
      executorId: "e",
      results: tasks.map((t) => ({
        stepId: t.task.stepId,
        runId: t.task.runId,
        generation: 1,
        attempt: 1,
        outcome: { case: "result", value: encodePayload(1) },
      })),
    }),
  );
  expect(record.value.acks.every((a) => a.status === ResultStatus.RECORDED)).toBe(true);
  await h.query("UPDATE runs SET status = 'canceled' WHERE status = 'running'");
  return { claim: claim.count, commit: commit.count, record: record.count };
}

test("statements per call do not grow with the batch", async () => {
  const one = await roundTrip(1);
  const many = await roundTrip(60);
  expect(many).toEqual(one);
  expect(one.claim).toBeLessThanOrEqual(2);
  expect(one.commit).toBeLessThanOrEqual(3);
  expect(one.record).toBeLessThanOrEqual(3);
});
