// Diagnose against a real journal, Postgres and JetStream with no coordinator and no executor
// running: started runs stay ready and unclaimed, committed steps' tasks pile up in JetStream,
// a task fetched and not acked counts as unacked, and a step quiet past its dispatch timeout is
// overdue. Each figure is asserted, then bad input is rejected.
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { encodePayload, OperatorService, StepKind, TurnStatus } from "@weft/contracts";
import { shardConsumer, taskStream } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimRun, expectConnectError, type Harness, startHarness } from "./harness.ts";

let h: Harness;
let operator: ReturnType<typeof createClient<typeof OperatorService>>;
beforeAll(async () => {
  h = await startHarness("journal diagnose", { shards: 2, dispatchTimeoutMs: 60_000 });
  operator = createClient(OperatorService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${h.journal.port}` }));
  await h.internal.registerWorker({ workerId: "c-1", appVersion: "v1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

describe("Diagnose", () => {
  it("reports ready runs unclaimed for long, task backlog, unacked tasks and overdue steps", async () => {
    const started = [];
    for (let i = 0; i < 6; i++) {
      started.push((await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(i) })).run!);
    }
    // Nothing claims them (no coordinator): all six are ready. Make two look old.
    const [old1, old2, toClaim] = started;
    await h.query("UPDATE runs SET ready_at = now() - interval '10 minutes' WHERE id = ANY($1::uuid[])", [
      [old1!.id, old2!.id],
    ]);

    // One run gets a turn committed with two executor steps: their tasks wait in JetStream.
    const claimed = await claimRun(h, toClaim!.id);
    const commit = await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId: toClaim!.id,
          leaseToken: claimed.leaseToken,
          generation: 1,
          newSteps: [
            { seq: 1, name: "analyzeA", kind: StepKind.ACTION, args: encodePayload(1) },
            { seq: 2, name: "analyzeB", kind: StepKind.ACTION, args: encodePayload(2) },
          ],
        },
      ],
    });
    expect(commit.results[0]?.status).toBe(TurnStatus.COMMITTED);
    // The claim above took every ready run (maxRuns 100): put the other five back to ready.
    await h.query(
      "UPDATE runs SET lease_owner = NULL, lease_expires = NULL, ready = true WHERE id <> $1 AND status = 'running'",
      [toClaim!.id],
    );
    await h.query("UPDATE runs SET ready_at = now() - interval '10 minutes' WHERE id = ANY($1::uuid[])", [
      [old1!.id, old2!.id],
    ]);
    // One of the two steps has been quiet for 5 minutes: past the 60 s dispatch timeout.
    await h.query("UPDATE steps SET dispatched_at = now() - interval '5 minutes' WHERE run_id = $1 AND seq = 1", [
      toClaim!.id,
    ]);
    const shard = claimed.run!.shard;
    // An executor that fetched a task and died before acking it: one unacked task on the shard.
    const consumer = await jetstream(h.nc).consumers.get(taskStream(h.env.prefix), shardConsumer(h.env.prefix, shard));
    const eventuallyPublished = async () => {
      for (let i = 0; i < 100; i++) {
        if ((await consumer.info()).num_pending >= 2) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("tasks were not published");
    };
    await eventuallyPublished();
    const fetched = await consumer.next({ expires: 2000 });
    expect(fetched).not.toBeNull();
    await new Promise((r) => setTimeout(r, 300));

    const res = await operator.diagnose({ unclaimedThresholdMs: 60_000n });
    expect(res.warnings).toEqual([]);
    expect(res.shards.map((s) => s.shard)).toEqual([0, 1]);
    expect(res.readyRuns).toBe(5n);
    expect(res.shards.reduce((n, s) => n + s.readyRuns, 0n)).toBe(5n);
    expect(res.oldestReadyAgeMs).toBeGreaterThanOrEqual(600_000n);
    expect(res.unclaimedThresholdMs).toBe(60_000n);
    expect(res.unclaimedRunsTotal).toBe(2n);
    expect(new Set(res.unclaimedRuns.map((r) => r.runId))).toEqual(new Set([old1!.id, old2!.id]));
    expect(res.unclaimedRuns[0]).toMatchObject({ workflowName: "pipeline", appVersion: "v1" });
    expect(res.unclaimedRuns[0]!.readyAgeMs).toBeGreaterThanOrEqual(600_000n);

    const s = res.shards.find((x) => x.shard === shard)!;
    expect(s.runningTasks).toBe(2n);
    expect(s.tasksPending).toBe(1n);
    expect(s.tasksAckPending).toBe(1n);
    expect(s.oldestUnackedAgeMs).toBeGreaterThanOrEqual(200n);
    const other = res.shards.find((x) => x.shard !== shard)!;
    expect(other).toMatchObject({ runningTasks: 0n, tasksPending: 0n, tasksAckPending: 0n, oldestUnackedAgeMs: 0n });

    expect(res.overdueStepsTotal).toBe(1n);
    expect(res.overdueSteps[0]).toMatchObject({ runId: toClaim!.id, seq: 1, name: "analyzeA", kind: "action" });
    expect(res.overdueSteps[0]!.overdueMs).toBeGreaterThanOrEqual(230_000n);

    expect(res.versions).toMatchObject({ available: true });
    expect(res.versions!.note).toContain("carried");
    expect(res.versions!.waiting).toEqual([expect.objectContaining({ appVersion: "v1", readyRuns: 5n })]);

    // The default threshold (30 s) and a limit of 1.
    const limited = await operator.diagnose({ limit: 1 });
    expect(limited.unclaimedThresholdMs).toBe(30_000n);
    expect(limited.unclaimedRuns).toHaveLength(1);
    expect(limited.unclaimedRunsTotal).toBe(2n);
    fetched!.nak();
  });

  it("rejects a negative threshold and an absurd limit, naming the field", async () => {
    await expectConnectError(
      operator.diagnose({ unclaimedThresholdMs: -1n }),
      Code.InvalidArgument,
      "unclaimed_threshold_ms",
    );
    await expectConnectError(operator.diagnose({ limit: 5000 }), Code.InvalidArgument, "limit");
    await expectConnectError(operator.diagnose({ limit: -3 }), Code.InvalidArgument, "limit");
  });
});
