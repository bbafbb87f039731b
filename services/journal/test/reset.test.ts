// ResetWorkflow and RetryFailed: a new generation keeps the journal before a step, discards the
// rest; the old generation's in-flight results are acknowledged and ignored, its turns fenced.
import { Code } from "@connectrpc/connect";
import {
  decodePayload,
  encodePayload,
  ResultStatus,
  RunStatus,
  StepKind,
  StepStatus,
  TurnStatus,
} from "@weft/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { claimRun, expectConnectError, type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal reset");
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }, { name: "other" }] });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.query("UPDATE runs SET status = 'canceled' WHERE status IN ('running', 'failed')");
  await h.query("UPDATE steps SET status = 'canceled' WHERE status = 'running'");
  for (let shard = 0; shard < h.config.shards; shard++) await h.takeTasks(shard);
});

const ok = (value: unknown) => ({ case: "result" as const, value: encodePayload(value) });

async function start(workflowName = "pipeline") {
  const { run } = await h.workflows.startWorkflow({ workflowName, args: encodePayload("doc") });
  if (!run) throw new Error("no run");
  return run;
}

/** One claim + commit of new action steps (or a completion) for the run. */
async function turn(runId: string, generation: number, newSteps: [number, string][], completion?: unknown) {
  const claimed = await claimRun(h, runId);
  const res = await h.internal.commitTurns({
    owner: "coordinator-1",
    turns: [
      {
        runId,
        leaseToken: claimed.leaseToken,
        generation,
        newSteps: newSteps.map(([seq, name]) => ({ seq, name, kind: StepKind.ACTION })),
        completion: completion === undefined ? undefined : (completion as never),
      },
    ],
  });
  expect(res.results[0]?.status).toBe(TurnStatus.COMMITTED);
  return claimed;
}

async function record(task: { stepId: string; runId: string; generation: number }, value: unknown) {
  const res = await h.internal.recordResultBatch({
    executorId: "executor-1",
    results: [{ ...task, attempt: 1, outcome: ok(value) }],
  });
  return res.acks[0]?.status;
}

/** A pipeline run with extract and analyzeA done and analyzeB (seq 3) still in flight. */
async function runMidway() {
  const run = await start();
  await turn(run.id, 1, [[1, "extract"]]);
  const [extract] = await takeAllTasks(h, 1);
  expect(await record(extract!.task, "text")).toBe(ResultStatus.RECORDED);
  await turn(run.id, 1, [
    [2, "analyzeA"],
    [3, "analyzeB"],
  ]);
  const tasks = await takeAllTasks(h, 2);
  const a = tasks.find((t) => t.task.stepName === "analyzeA")!;
  const b = tasks.find((t) => t.task.stepName === "analyzeB")!;
  expect(await record(a.task, "A")).toBe(ResultStatus.RECORDED);
  return { run, b };
}

describe("ResetWorkflow", () => {
  test("keeps the journal before the step; a late result of the old generation is acknowledged and ignored", async () => {
    const { run, b } = await runMidway();
    const reset = await h.workflows.resetWorkflow({ runId: run.id, fromSeq: 3, reason: "test" });
    expect(reset.fromSeq).toBe(3);
    expect(reset.run?.generation).toBe(2);
    expect(reset.run?.status).toBe(RunStatus.RUNNING);

    // analyzeB of generation 1 finishes after the reset: acknowledged, not applied.
    expect(await record(b.task, "B-old")).toBe(ResultStatus.STALE);
    const history = await h.workflows.getHistory({ runId: run.id });
    const gen2 = history.steps.filter((s) => s.generation === 2);
    expect(gen2.map((s) => [s.seq, s.name, s.status])).toEqual([
      [1, "extract", StepStatus.COMPLETED],
      [2, "analyzeA", StepStatus.COMPLETED],
    ]);
    expect(decodePayload(gen2[1]!.result)).toBe("A");
    const oldB = history.steps.find((s) => s.generation === 1 && s.seq === 3);
    expect(oldB?.status).toBe(StepStatus.CANCELED);

    // The run is ready for a coordinator, which sees only generation 2 and journals seq 3 again.
    const claimed = await turn(run.id, 2, [[3, "analyzeB"]]);
    expect(claimed.steps.map((s) => s.seq)).toEqual([1, 2]);
    const [again] = await takeAllTasks(h, 1);
    expect(again?.task.generation).toBe(2);
    expect(await record(again!.task, "B")).toBe(ResultStatus.RECORDED);
  });

  test("fences a turn of the lease held before the reset", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    await h.workflows.resetWorkflow({ runId: run.id, fromSeq: 1 });
    const res = await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [{ runId: run.id, leaseToken: claimed.leaseToken, generation: 1, newSteps: [] }],
    });
    expect(res.results[0]?.status).toBe(TurnStatus.FENCED);
  });

  test("kept steps still running are dispatched again under the new generation", async () => {
    const { run, b } = await runMidway();
    const reset = await h.workflows.resetWorkflow({ runId: run.id, fromSeq: 4 });
    expect(reset.run?.generation).toBe(2);
    const [redispatched] = await takeAllTasks(h, 1);
    expect(redispatched?.task.stepName).toBe("analyzeB");
    expect(redispatched?.task.generation).toBe(2);
    expect(redispatched?.task.stepId).not.toBe(b.task.stepId);
    expect(await record(b.task, "B-old")).toBe(ResultStatus.STALE);
    expect(await record(redispatched!.task, "B")).toBe(ResultStatus.RECORDED);
  });

  test("a completed run becomes running again, by step name", async () => {
    const run = await start();
    await turn(run.id, 1, [[1, "extract"]]);
    const [extract] = await takeAllTasks(h, 1);
    await record(extract!.task, "text");
    await turn(run.id, 1, [], { outcome: ok("done") });
    expect((await h.workflows.getWorkflow({ runId: run.id })).run?.status).toBe(RunStatus.COMPLETED);
    const reset = await h.workflows.resetWorkflow({ runId: run.id, fromStepName: "extract" });
    expect(reset.fromSeq).toBe(1);
    expect(reset.run?.status).toBe(RunStatus.RUNNING);
    expect(reset.run?.result.length).toBe(0);
    const claimed = await claimRun(h, run.id);
    expect(claimed.steps).toEqual([]);
    expect(claimed.run?.generation).toBe(2);
  });

  test("rejects bad input naming the field and changes nothing", async () => {
    const { run } = await runMidway();
    const id = run.id;
    await expectConnectError(h.workflows.resetWorkflow({ runId: "x", fromSeq: 1 }), Code.InvalidArgument, "run_id");
    await expectConnectError(h.workflows.resetWorkflow({ runId: id }), Code.InvalidArgument, "from_seq");
    await expectConnectError(
      h.workflows.resetWorkflow({ runId: id, fromSeq: 1, fromStepName: "extract" }),
      Code.InvalidArgument,
      "from_seq",
    );
    await expectConnectError(h.workflows.resetWorkflow({ runId: id, fromSeq: 5 }), Code.InvalidArgument, "from_seq");
    await expectConnectError(
      h.workflows.resetWorkflow({ runId: id, fromStepName: "nope" }),
      Code.NotFound,
      "from_step_name",
    );
    await expectConnectError(
      h.workflows.resetWorkflow({ runId: id, fromSeq: 1, appVersion: "v9" }),
      Code.NotFound,
      "app_version",
    );
    await expectConnectError(
      h.workflows.resetWorkflow({ runId: "0190b7c0-0000-7000-8000-000000000000", fromSeq: 1 }),
      Code.NotFound,
      "run_id",
    );
    expect((await h.workflows.getWorkflow({ runId: id })).run?.generation).toBe(1);
  });
});

describe("RetryFailed", () => {
  async function failedRun(workflowName: string, message: string) {
    const run = await start(workflowName);
    await turn(run.id, 1, [[1, "extract"]]);
    const [task] = await takeAllTasks(h, 1);
    await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: [
        {
          stepId: task!.task.stepId,
          runId: task!.task.runId,
          generation: 1,
          attempt: 1,
          outcome: { case: "failure", value: { name: "NonRetryableError", message } },
        },
      ],
    });
    await turn(run.id, 1, [], { outcome: { case: "failure", value: { name: "StepFailedError", message } } });
    return run;
  }

  test("dry run counts; pages reset failed runs from their first failed step", async () => {
    const a = await failedRun("pipeline", "upstream Boom 1");
    const b = await failedRun("pipeline", "upstream boom 2");
    await failedRun("pipeline", "something else");
    await failedRun("other", "boom elsewhere");

    const dry = await h.workflows.retryFailed({ workflowName: "pipeline", errorContains: "BOOM", dryRun: true });
    expect(dry.count).toBe(2);
    expect(dry.runIds).toEqual([]);
    expect((await h.workflows.getWorkflow({ runId: a.id })).run?.status).toBe(RunStatus.FAILED);

    const first = await h.workflows.retryFailed({ workflowName: "pipeline", errorContains: "boom", pageSize: 1 });
    expect(first.count).toBe(1);
    expect(first.runIds).toEqual([b.id]); // newest first
    expect(first.nextPageToken).not.toBe("");
    const second = await h.workflows.retryFailed({
      workflowName: "pipeline",
      errorContains: "boom",
      pageSize: 1,
      pageToken: first.nextPageToken,
    });
    expect(second.runIds).toEqual([a.id]);
    expect(second.nextPageToken).toBe("");

    const claimed = await h.internal.claimRuns({ owner: "coordinator-1", maxRuns: 100, leaseMs: 10_000 });
    for (const id of [a.id, b.id]) {
      const run = claimed.runs.find((r) => r.run?.id === id);
      expect(run?.run?.status).toBe(RunStatus.RUNNING);
      expect(run?.run?.generation).toBe(2);
      // From the failed step (seq 1): nothing kept.
      expect(run?.steps).toEqual([]);
    }
    const after = await h.workflows.retryFailed({ workflowName: "pipeline", errorContains: "boom", dryRun: true });
    expect(after.count).toBe(0);
  });

  test("validates page_size, page_token and app_version", async () => {
    await expectConnectError(h.workflows.retryFailed({ pageSize: -1 }), Code.InvalidArgument, "page_size");
    await expectConnectError(h.workflows.retryFailed({ pageToken: "zz" }), Code.InvalidArgument, "page_token");
    await expectConnectError(h.workflows.retryFailed({ appVersion: "v2" }), Code.InvalidArgument, "app_version");
  });
});
