// Recovery paths: the sweeper republishes a task that produced nothing within the dispatch
// timeout, and shard leases balance across executors and move away from a dead one.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dispatchOne, eventually, expectConnectError, type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal recovery", { shards: 16, dispatchTimeoutMs: 400 });
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

describe("sweeper", () => {
  test("RegisterWorker tells executors the dispatch timeout they heartbeat against", async () => {
    const res = await h.internal.registerWorker({ workerId: "worker-2", workflows: [{ name: "pipeline" }] });
    expect(res.dispatchTimeoutMs).toBe(400);
  });

  test("republishes a step whose task was lost, with the next dispatch number", async () => {
    const { runId } = await dispatchOne(h, "lost");
    const first = await takeAllTasks(h, 1);
    expect(first.map((t) => t.task.dispatch)).toEqual([1]); // taken and acked without a result: "lost"
    const again = await takeAllTasks(h, 1, 5000);
    expect(again.length).toBe(1);
    expect(again[0]?.task.dispatch).toBe(2);
    expect(again[0]?.msgId).toBe(`${first[0]?.task.stepId}.2`);

    // A heartbeat keeps the sweeper away.
    const stepId = first[0]?.task.stepId ?? "";
    const beat = setInterval(() => void h.internal.heartbeatSteps({ executorId: "e1", stepIds: [stepId] }), 100);
    try {
      await new Promise((r) => setTimeout(r, 900));
      const quiet = await takeAllTasks(h, 1, 100);
      expect(quiet).toEqual([]);
    } finally {
      clearInterval(beat);
    }
    const [row] = await h.query<{ dispatch: number }>("SELECT dispatch FROM steps WHERE id = $1", [stepId]);
    expect(row?.dispatch).toBe(2);
    const hb = await h.internal.heartbeatSteps({
      executorId: "e1",
      stepIds: [stepId, "0190f5a4-0000-7000-8000-000000000009"],
    });
    expect(hb.finishedStepIds).toEqual(["0190f5a4-0000-7000-8000-000000000009"]);
    await h.workflows.cancelWorkflow({ runId });
  });
});

describe("shard leases", () => {
  test("balance 16 shards 8/8 across two executors and move a dead executor's shards", async () => {
    const lease = (executorId: string, leaseMs = 1500, release: number[] = []) =>
      h.internal.leaseShards({ executorId, leaseMs, release });
    const a1 = await lease("executor-a");
    expect(a1.leases.length).toBe(16);
    expect(a1.liveExecutors).toBe(1);
    const b1 = await lease("executor-b");
    expect(b1.liveExecutors).toBe(2);
    const a2 = await lease("executor-a"); // gives up shards above its target of 8
    expect(a2.leases.length).toBe(8);
    const b2 = await lease("executor-b");
    expect(b2.leases.length).toBe(8);
    const owned = new Set([...a2.leases, ...b2.leases].map((l) => l.shard));
    expect(owned.size).toBe(16);

    // executor-a dies (stops renewing): after expiry executor-b takes everything.
    const b3 = await eventually(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const res = await lease("executor-b");
      return res.leases.length === 16 ? res : undefined;
    }, 5000);
    expect(b3.liveExecutors).toBe(1);
    const moved = b3.leases.filter((l) => a2.leases.some((x) => x.shard === l.shard));
    expect(moved.every((l) => l.token >= 2n)).toBe(true);

    // Graceful release: executor-b gives everything back and is no longer live.
    const gone = await lease(
      "executor-b",
      1500,
      b3.leases.map((l) => l.shard),
    );
    expect(gone.leases).toEqual([]);
    const c = await lease("executor-c");
    expect(c.leases.length).toBe(16);
    expect(c.liveExecutors).toBe(1);
  }, 15_000);

  test("validates its input", async () => {
    await expectConnectError(
      h.internal.leaseShards({ executorId: "", leaseMs: 1000 }),
      Code.InvalidArgument,
      "executor_id",
    );
    await expectConnectError(h.internal.leaseShards({ executorId: "x", leaseMs: 0 }), Code.InvalidArgument, "lease_ms");
    await expectConnectError(
      h.internal.leaseShards({ executorId: "x", leaseMs: 1000, release: [16] }),
      Code.InvalidArgument,
      "release[0]",
    );
  });
});
