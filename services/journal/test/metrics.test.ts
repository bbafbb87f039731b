// GET /metrics on the journal's port serves Prometheus text: RPCs, batch sizes, results, tasks,
// timers, runs, transactions, shard leases and ready runs per shard, and Node's own metrics.
import { encodePayload, StepKind } from "@weft/contracts";
import { afterAll, beforeAll, expect, test } from "vitest";
import { claimRun, eventually, type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal metrics");
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

async function scrape(path = "/metrics"): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${h.journal.port}${path}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The value of one sample line, e.g. `weft_journal_results_total{status="recorded"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

test("after some traffic, /metrics has the journal's metrics", async () => {
  const start = await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(1) });
  const run = start.run;
  if (!run) throw new Error("no run");
  await h.internal.leaseShards({ executorId: "executor-1", leaseMs: 10_000 });
  const claimed = await claimRun(h, run.id);
  await h.internal.commitTurns({
    owner: "coordinator-1",
    turns: [
      {
        runId: run.id,
        leaseToken: claimed.leaseToken,
        generation: 1,
        newSteps: [
          { seq: 1, name: "a", kind: StepKind.ACTION },
          { seq: 2, name: "b", kind: StepKind.ACTION },
          { seq: 3, name: "nap", kind: StepKind.SLEEP, wakeAt: { seconds: BigInt(Math.ceil(Date.now() / 1000) + 1) } },
        ],
      },
    ],
  });
  const tasks = await takeAllTasks(h, 2);
  const results = tasks.map((t) => ({
    stepId: t.task.stepId,
    runId: t.task.runId,
    generation: 1,
    attempt: 1,
    outcome: { case: "result" as const, value: encodePayload(0) },
  }));
  await h.internal.recordResultBatch({ executorId: "executor-1", results });
  await h.internal.recordResultBatch({ executorId: "executor-1", results: results.slice(0, 1) });
  await h.workflows.getWorkflow({ runId: "not-a-uuid" }).catch(() => undefined);
  await eventually(
    async () => sample((await scrape()).text, "weft_journal_timers_fired_total", { kind: "sleep" }) === 1,
  );
  await h.workflows.cancelWorkflow({ runId: run.id });

  const { status, type, text } = await scrape();
  expect(status).toBe(200);
  expect(type).toMatch(/text\/plain/);
  expect(sample(text, "weft_journal_rpc_total", { method: "StartWorkflow", code: "ok" })).toBe(1);
  expect(sample(text, "weft_journal_rpc_total", { method: "GetWorkflow", code: "InvalidArgument" })).toBe(1);
  expect(sample(text, "weft_journal_rpc_seconds_count", { method: "CommitTurns" })).toBe(1);
  for (const name of ["start", "claim", "commit", "record"]) {
    expect(sample(text, `weft_journal_${name}_batch_size_count`)).toBeGreaterThanOrEqual(1);
  }
  expect(sample(text, "weft_journal_record_batch_size_sum")).toBe(3);
  expect(sample(text, "weft_journal_results_total", { status: "recorded" })).toBe(2);
  expect(sample(text, "weft_journal_results_total", { status: "duplicate" })).toBe(1);
  expect(sample(text, "weft_journal_results_total", { status: "stale" })).toBe(0);
  expect(sample(text, "weft_journal_tasks_published_total", { reason: "dispatched" })).toBe(2);
  expect(sample(text, "weft_journal_tasks_published_total", { reason: "republished" })).toBe(0);
  expect(sample(text, "weft_journal_timers_fired_total", { kind: "sleep" })).toBe(1);
  expect(sample(text, "weft_journal_runs_started_total", { kind: "root" })).toBe(1);
  expect(sample(text, "weft_journal_runs_ended_total", { status: "canceled" })).toBe(1);
  expect(sample(text, "weft_journal_db_transaction_seconds_count", { name: "commitTurns" })).toBe(1);
  expect(sample(text, "weft_journal_shard_leases_held", { executor: "executor-1" })).toBe(h.config.shards);
  expect(text).toContain("weft_journal_ready_runs");
  expect(text).toContain("weft_journal_ready_lag_seconds");
  expect(sample(text, "weft_nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  expect(text).toContain('service="journal"');

  // Anything but GET /metrics that Connect does not route is a 404.
  expect((await scrape("/nope")).status).toBe(404);
});

test("ready runs and their lag per shard", async () => {
  const start = await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(2) });
  const shard = String(start.run?.shard);
  const { text } = await scrape();
  expect(sample(text, "weft_journal_ready_runs", { shard })).toBe(1);
  expect(sample(text, "weft_journal_ready_lag_seconds", { shard })).toBeGreaterThanOrEqual(0);
});
