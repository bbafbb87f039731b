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

test("a watch of the final state reads its run when it starts and when the run ends, not at each change", async () => {
  const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
  const runId = run?.id ?? "";
  const isRunRead = (s: string) => /^\s*SELECT \* FROM runs WHERE id = \$1\s*$/.test(s);
  statements.length = 0;
  let messages = 0;
  const watching = (async () => {
    for await (const _ of h.workflows.watchWorkflow({ runId, finalOnly: true })) messages++;
  })();
  // Changes on the way: a turn with a step, its result.
  const claim = await h.internal.claimRuns({ owner: "c", maxRuns: 1000, leaseMs: 10_000 });
  const leaseToken = claim.runs.find((r) => r.run?.id === runId)?.leaseToken ?? 0n;
  await h.internal.commitTurns({
    owner: "c",
    turns: [{ runId, leaseToken, generation: 1, newSteps: [{ seq: 1, name: "fetch", kind: StepKind.ACTION }] }],
  });
  const [task] = await takeAllTasks(h, 1);
  await h.internal.recordResultBatch({
    executorId: "e",
    results: [
      {
        stepId: task?.task.stepId ?? "",
        runId,
        generation: 1,
        attempt: 1,
        outcome: { case: "result", value: encodePayload(1) },
      },
    ],
  });
  const again = await h.internal.claimRuns({ owner: "c", maxRuns: 1000, leaseMs: 10_000 });
  const token = again.runs.find((r) => r.run?.id === runId)?.leaseToken ?? 0n;
  await h.internal.commitTurns({
    owner: "c",
    turns: [
      { runId, leaseToken: token, generation: 1, completion: { outcome: { case: "result", value: encodePayload(2) } } },
    ],
  });
  await watching;
  expect(messages).toBe(1);
  expect(statements.filter(isRunRead)).toHaveLength(2);
});
