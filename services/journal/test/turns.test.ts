// The coordinator/executor contract: claim leases and fencing, turn commits that journal steps
// and publish tasks, idempotent result batches, timers, events, child runs, cancel, on-complete.
import { Code } from "@connectrpc/connect";
import {
  decodePayload,
  encodePayload,
  ResultStatus,
  RunStatus,
  StepKind,
  StepStatus,
  TurnStatus,
  toTimestamp,
} from "@weft/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { claimRun, eventually, expectConnectError, type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal turns");
  await h.internal.registerWorker({
    workerId: "worker-1",
    workflows: [{ name: "pipeline" }, { name: "child" }, { name: "hooked", hasOnComplete: true }],
  });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.query("UPDATE runs SET status = 'canceled' WHERE status = 'running'");
  await h.query("UPDATE steps SET status = 'canceled' WHERE status = 'running'");
  // Drain leftover tasks so that each test sees only its own.
  for (let shard = 0; shard < h.config.shards; shard++) await h.takeTasks(shard);
});

const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

async function start(workflowName = "pipeline", args: unknown = null) {
  const { run } = await h.workflows.startWorkflow({ workflowName, args: encodePayload(args) });
  if (!run) throw new Error("no run");
  return run;
}

async function stepsOf(runId: string) {
  return (await h.workflows.getHistory({ runId })).steps;
}

async function commit(runId: string, leaseToken: bigint, turn: Record<string, unknown>, owner = "coordinator-1") {
  const res = await h.internal.commitTurns({ owner, turns: [{ runId, leaseToken, generation: 1, ...turn }] });
  return res.results[0];
}

const ok = (value: unknown) => ({ case: "result" as const, value: encodePayload(value) });

describe("claim", () => {
  test("leases with a fencing token; an expired lease is fenced and the run is claimable again", async () => {
    const run = await start();
    const first = await claimRun(h, run.id, "coordinator-1", 300);
    expect(first.leaseToken).toBe(1n);
    const other = await h.internal.claimRuns({ owner: "coordinator-2", maxRuns: 10, leaseMs: 5000 });
    expect(other.runs).toEqual([]);
    await new Promise((r) => setTimeout(r, 400));
    // Expired but not yet reclaimed: the commit is still fenced.
    const late = await commit(run.id, first.leaseToken, {
      newSteps: [{ seq: 1, name: "extract", kind: StepKind.ACTION }],
    });
    expect(late?.status).toBe(TurnStatus.FENCED);
    const second = await claimRun(h, run.id, "coordinator-2", 5000);
    expect(second.leaseToken).toBe(2n);
    const stale = await commit(run.id, first.leaseToken, {}, "coordinator-1");
    expect(stale?.status).toBe(TurnStatus.FENCED);
    const fresh = await commit(run.id, second.leaseToken, {}, "coordinator-2");
    expect(fresh?.status).toBe(TurnStatus.COMMITTED);
    expect(await stepsOf(run.id)).toEqual([]);
  });

  test("validates owner, max_runs and lease_ms", async () => {
    await expectConnectError(h.internal.claimRuns({ owner: "", maxRuns: 1 }), Code.InvalidArgument, "owner");
    await expectConnectError(h.internal.claimRuns({ owner: "c", maxRuns: 0 }), Code.InvalidArgument, "max_runs");
    await expectConnectError(h.internal.claimRuns({ owner: "c", maxRuns: 20_000 }), Code.InvalidArgument, "max_runs");
    await expectConnectError(
      h.internal.claimRuns({ owner: "c", maxRuns: 1, leaseMs: 1 }),
      Code.InvalidArgument,
      "lease_ms",
    );
    await expectConnectError(
      h.internal.claimRuns({ owner: "c", maxRuns: 1, shards: [99] }),
      Code.InvalidArgument,
      "shards[0]",
    );
    await expectConnectError(
      h.internal.commitTurns({ owner: "c", turns: [{ runId: "x", leaseToken: 1n }] }),
      Code.InvalidArgument,
      "turns[0].run_id",
    );
    await expectConnectError(
      h.internal.recordResultBatch({ executorId: "e", results: [{ stepId: "bad", runId: "bad" }] }),
      Code.InvalidArgument,
      "results[0].step_id",
    );
  });
});

describe("commit and record", () => {
  test("commit journals steps and publishes their tasks; results are recorded once", async () => {
    const run = await start("pipeline", { input: 1 });
    const claimed = await claimRun(h, run.id);
    const result = await commit(run.id, claimed.leaseToken, {
      traceparent: TRACEPARENT,
      newSteps: [
        { seq: 1, name: "analyzeA", kind: StepKind.ACTION, args: encodePayload("a") },
        { seq: 2, name: "analyzeB", kind: StepKind.QUERY, args: encodePayload("b") },
      ],
    });
    expect(result).toMatchObject({ status: TurnStatus.COMMITTED, ready: false });
    const steps = await stepsOf(run.id);
    expect(steps.map((s) => [s.seq, s.name, s.status])).toEqual([
      [1, "analyzeA", StepStatus.RUNNING],
      [2, "analyzeB", StepStatus.RUNNING],
    ]);
    const tasks = await takeAllTasks(h, 2);
    expect(tasks.map((t) => t.task.stepName).sort()).toEqual(["analyzeA", "analyzeB"]);
    for (const t of tasks) {
      expect(t.task.shard).toBe(run.shard);
      expect(t.task.workflowName).toBe("pipeline");
      expect(t.task.dispatch).toBe(1);
      expect(t.msgId).toBe(`${t.task.stepId}.1`);
      expect(t.traceparent).toBe(TRACEPARENT);
    }
    const [a, b] = steps;
    if (!a || !b) throw new Error("steps missing");
    // Running steps leave the run unclaimable until a result arrives.
    const again = await h.internal.claimRuns({ owner: "coordinator-2", maxRuns: 10, leaseMs: 1000 });
    expect(again.runs).toEqual([]);

    const res = await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: [
        { stepId: a.id, runId: run.id, generation: 1, attempt: 1, outcome: ok({ score: 1 }) },
        { stepId: a.id, runId: run.id, generation: 1, attempt: 2, outcome: ok({ score: 2 }) },
        { stepId: b.id, runId: run.id, generation: 2, attempt: 1, outcome: ok("old") },
        { stepId: "0190f5a4-0000-7000-8000-000000000001", runId: run.id, generation: 1, attempt: 1, outcome: ok(1) },
      ],
    });
    expect(res.acks.map((x) => x.status)).toEqual([
      ResultStatus.RECORDED,
      ResultStatus.DUPLICATE,
      ResultStatus.STALE,
      ResultStatus.STALE,
    ]);
    const [runRow] = await h.query("SELECT ready FROM runs WHERE id = $1", [run.id]);
    expect(runRow?.ready).toBe(true);
    const redelivered = await h.internal.recordResultBatch({
      executorId: "executor-2",
      results: [{ stepId: a.id, runId: run.id, generation: 1, attempt: 1, outcome: ok({ score: 3 }) }],
    });
    expect(redelivered.acks[0]?.status).toBe(ResultStatus.DUPLICATE);

    const next = await claimRun(h, run.id);
    const recorded = next.steps.find((s) => s.id === a.id);
    expect(recorded?.status).toBe(StepStatus.COMPLETED);
    expect(decodePayload(recorded?.result ?? new Uint8Array())).toEqual({ score: 1 });
    expect(recorded?.completionOrder).toBeGreaterThan(0n);

    // A result arriving while the turn runs makes the committed turn report ready.
    await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: [
        {
          stepId: b.id,
          runId: run.id,
          generation: 1,
          attempt: 1,
          outcome: { case: "failure", value: { name: "Error", message: "boom" } },
        },
      ],
    });
    const during = await commit(run.id, next.leaseToken, {});
    expect(during).toMatchObject({ status: TurnStatus.COMMITTED, ready: true });
    const failed = (await stepsOf(run.id)).find((s) => s.id === b.id);
    expect(failed?.status).toBe(StepStatus.FAILED);
    expect(failed?.error?.message).toBe("boom");
  });

  test("completion ends the run and cancels its running steps; late results are stale", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    await commit(run.id, claimed.leaseToken, { newSteps: [{ seq: 1, name: "slow", kind: StepKind.ACTION }] });
    const [step] = await stepsOf(run.id);
    await h.workflows.sendEvent({ runId: run.id, eventName: "poke" }); // not a wait: nothing becomes ready
    await h.query("UPDATE runs SET ready = true WHERE id = $1", [run.id]);
    const again = await claimRun(h, run.id);
    const done = await commit(run.id, again.leaseToken, {
      completion: { outcome: { case: "failure", value: { name: "NonRetryableError", message: "no" } } },
    });
    expect(done?.status).toBe(TurnStatus.COMMITTED);
    const got = await h.workflows.getWorkflow({ runId: run.id });
    expect(got.run?.status).toBe(RunStatus.FAILED);
    expect(got.run?.error?.name).toBe("NonRetryableError");
    expect((await stepsOf(run.id))[0]?.status).toBe(StepStatus.CANCELED);
    const late = await h.internal.recordResultBatch({
      executorId: "e",
      results: [{ stepId: step?.id ?? "", runId: run.id, generation: 1, attempt: 1, outcome: ok(1) }],
    });
    expect(late.acks[0]?.status).toBe(ResultStatus.STALE);
    const notRunning = await commit(run.id, again.leaseToken, {});
    expect(notRunning?.status).toBe(TurnStatus.NOT_RUNNING);
  });

  test("on-complete hook gets a seq 0 task", async () => {
    const run = await start("hooked");
    const claimed = await claimRun(h, run.id);
    await commit(run.id, claimed.leaseToken, { completion: { outcome: ok({ total: 3 }) } });
    const tasks = await takeAllTasks(h, 1);
    expect(tasks.length).toBe(1);
    expect(tasks[0]?.task).toMatchObject({ seq: 0, kind: StepKind.ON_COMPLETE, runId: run.id });
    expect(decodePayload(tasks[0]?.task.args ?? new Uint8Array())).toEqual({
      runId: run.id,
      workflowName: "hooked",
      status: "completed",
      result: { total: 3 },
      error: null,
    });
  });
});

describe("timers and events", () => {
  test("a sleep fires at its time and makes the run ready; a due sleep completes at once", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    const r = await commit(run.id, claimed.leaseToken, {
      newSteps: [
        { seq: 1, name: "nap", kind: StepKind.SLEEP, wakeAt: toTimestamp(Date.now() + 300) },
        { seq: 2, name: "past", kind: StepKind.SLEEP, wakeAt: toTimestamp(Date.now() - 1000) },
      ],
    });
    expect(r).toMatchObject({ status: TurnStatus.COMMITTED, ready: true });
    const t0 = Date.now();
    await eventually(async () => (await stepsOf(run.id)).every((s) => s.status === StepStatus.COMPLETED));
    expect(Date.now() - t0).toBeLessThan(2000);
    const [row] = await h.query("SELECT ready FROM runs WHERE id = $1", [run.id]);
    expect(row?.ready).toBe(true);
  });

  test("an event sent before the wait is consumed by the wait; one sent after completes it", async () => {
    const run = await start();
    const early = await h.workflows.sendEvent({
      runId: run.id,
      eventName: "approve",
      payload: encodePayload({ ok: 1 }),
    });
    expect(early.delivered).toBe(false);
    const claimed = await claimRun(h, run.id);
    const r = await commit(run.id, claimed.leaseToken, {
      newSteps: [
        { seq: 1, name: "wait approve", kind: StepKind.EVENT, eventName: "approve" },
        { seq: 2, name: "wait second", kind: StepKind.EVENT, eventName: "second" },
      ],
    });
    expect(r?.ready).toBe(true);
    let steps = await stepsOf(run.id);
    expect(steps[0]?.status).toBe(StepStatus.COMPLETED);
    expect(decodePayload(steps[0]?.result ?? new Uint8Array())).toEqual({ ok: 1 });
    expect(steps[1]?.status).toBe(StepStatus.RUNNING);
    await h.query("UPDATE runs SET ready = false WHERE id = $1", [run.id]);
    const late = await h.workflows.sendEvent({ runId: run.id, eventName: "second", payload: encodePayload(2) });
    expect(late.delivered).toBe(true);
    steps = await stepsOf(run.id);
    expect(steps[1]?.status).toBe(StepStatus.COMPLETED);
    const history = await h.workflows.getHistory({ runId: run.id });
    expect(history.events.map((e) => e.consumedBySeq)).toEqual([1, 2]);
    const [row] = await h.query("SELECT ready FROM runs WHERE id = $1", [run.id]);
    expect(row?.ready).toBe(true);
  });

  test("an event wait past its timeout fails with TimeoutError", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    await commit(run.id, claimed.leaseToken, {
      newSteps: [
        { seq: 1, name: "w", kind: StepKind.EVENT, eventName: "never", timeoutAt: toTimestamp(Date.now() + 200) },
      ],
    });
    const step = await eventually(async () => {
      const [s] = await stepsOf(run.id);
      return s?.status === StepStatus.FAILED ? s : undefined;
    });
    expect(step.error?.name).toBe("TimeoutError");
  });
});

describe("children and cancel", () => {
  test("a child run's completion completes the parent's CHILD step", async () => {
    const parent = await start();
    const claimed = await claimRun(h, parent.id);
    await commit(parent.id, claimed.leaseToken, {
      newSteps: [
        { seq: 1, name: "sub", kind: StepKind.CHILD, childWorkflowName: "child", args: encodePayload({ n: 2 }) },
      ],
    });
    const [childStep] = await stepsOf(parent.id);
    const childId = childStep?.childRunId ?? "";
    const child = await h.workflows.getWorkflow({ runId: childId });
    expect(child.run).toMatchObject({ workflowName: "child", parentRunId: parent.id, status: RunStatus.RUNNING });
    const listed = await h.workflows.listWorkflows({ parentRunId: parent.id });
    expect(listed.runs.map((r) => r.id)).toEqual([childId]);
    const childClaim = await claimRun(h, childId);
    expect(decodePayload(childClaim.run?.args ?? new Uint8Array())).toEqual({ n: 2 });
    await commit(childId, childClaim.leaseToken, { completion: { outcome: ok({ doubled: 4 }) } });
    const [done] = await stepsOf(parent.id);
    expect(done?.status).toBe(StepStatus.COMPLETED);
    expect(decodePayload(done?.result ?? new Uint8Array())).toEqual({ doubled: 4 });
    await claimRun(h, parent.id); // ready again
  });

  test("cancel ends the run, its steps and its children; late results are stale", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    await commit(run.id, claimed.leaseToken, {
      newSteps: [
        { seq: 1, name: "work", kind: StepKind.ACTION },
        { seq: 2, name: "sub", kind: StepKind.CHILD, childWorkflowName: "child" },
      ],
    });
    const [work, sub] = await stepsOf(run.id);
    const canceled = await h.workflows.cancelWorkflow({ runId: run.id, reason: "user asked" });
    expect(canceled.run?.status).toBe(RunStatus.CANCELED);
    expect(canceled.run?.error).toMatchObject({ name: "CanceledError", message: "user asked" });
    expect((await stepsOf(run.id)).map((s) => s.status)).toEqual([StepStatus.CANCELED, StepStatus.CANCELED]);
    const child = await h.workflows.getWorkflow({ runId: sub?.childRunId ?? "" });
    expect(child.run?.status).toBe(RunStatus.CANCELED);
    const late = await h.internal.recordResultBatch({
      executorId: "e",
      results: [{ stepId: work?.id ?? "", runId: run.id, generation: 1, attempt: 1, outcome: ok(1) }],
    });
    expect(late.acks[0]?.status).toBe(ResultStatus.STALE);
    const twice = await h.workflows.cancelWorkflow({ runId: run.id, reason: "again" });
    expect(twice.run?.error?.message).toBe("user asked");
  });

  test("canceling a child fails the parent's CHILD step with CanceledError", async () => {
    const parent = await start();
    const claimed = await claimRun(h, parent.id);
    await commit(parent.id, claimed.leaseToken, {
      newSteps: [{ seq: 1, name: "sub", kind: StepKind.CHILD, childWorkflowName: "child" }],
    });
    const [sub] = await stepsOf(parent.id);
    await h.workflows.cancelWorkflow({ runId: sub?.childRunId ?? "", reason: "stop child" });
    const [after] = await stepsOf(parent.id);
    expect(after?.status).toBe(StepStatus.FAILED);
    expect(after?.error?.name).toBe("CanceledError");
  });
});
