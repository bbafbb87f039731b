// Crash tests with real processes: SIGKILL an executor mid-batch, SIGKILL the coordinator
// mid-turn, kill and restart the journal. Every workflow still completes with the right result,
// no step is journaled twice, and the only repeated executions are those the crash explains.
import { RunStatus } from "@weft/contracts";
import { expectedSummary } from "@weft/example-pipeline";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

// Short leases and ack waits so that recovery from a kill takes seconds, not minutes.
const fastRecovery = {
  WEFT_LEASE_MS: "2000",
  WEFT_SHARD_LEASE_MS: "2000",
  WEFT_TASK_ACK_WAIT_MS: "3000",
  WEFT_DISPATCH_TIMEOUT_MS: "10000",
};

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function startPipelines(harness: Harness, n: number, stepMs: number) {
  const inputs = Array.from({ length: n }, (_, id) => ({ id, text: `crash test run ${id}`, stepMs }));
  const runs = await Promise.all(inputs.map((input) => harness.start("loggedPipeline", input)));
  return { inputs, runs };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function expectAllCompleted(harness: Harness, inputs: { id: number; text: string }[], runIds: string[]) {
  const finished = await Promise.all(runIds.map((id) => harness.finished(id, 120_000)));
  for (const [i, run] of finished.entries()) {
    expect(run.status, `run ${run.id}`).toBe(RunStatus.COMPLETED);
    expect(harness.result<{ summary: string }>(run).summary).toBe(
      expectedSummary(inputs[i] as { id: number; text: string }),
    );
  }
  // Each step journaled once per run (the unique (run, generation, seq) key makes a second row
  // impossible; this checks that no step was dropped and none is left running).
  const rows = await harness.sql<{ status: string; n: string }>(
    "SELECT status::text AS status, count(*) AS n FROM steps WHERE seq > 0 GROUP BY status",
  );
  expect(rows.map((r) => [String(r.status), Number(r.n)])).toEqual([
    [expect.stringMatching(/completed/i), runIds.length * 4],
  ]);
}

describe("crashes", () => {
  it("survives SIGKILL of an executor in the middle of a batch", async () => {
    h = await startHarness("crash_executor", { executors: 2, env: fastRecovery });
    // Both executors hold shards before the work starts: an executor that registered second
    // gets its share only at the other's next renewal, and on a loaded machine the whole
    // workload could finish before the victim ran a step.
    await until("both executors to hold shards", async () => {
      const [row] = await h!.sql<{ n: string }>(
        "SELECT count(DISTINCT owner) AS n FROM shard_leases WHERE expires_at > now()",
      );
      return Number(row?.n) === 2;
    });
    const { inputs, runs } = await startPipelines(h, 200, 30);
    const victim = h.stack.executors[0]!;
    await until("the victim to run steps", () => h!.sideEffects().some((e) => e.pid === victim.pid));
    victim.kill("SIGKILL");
    await victim.exited;
    await h.stack.add("executor");
    await expectAllCompleted(
      h,
      inputs,
      runs.map((r) => r.id),
    );

    // Steps executed more than once must have started on the killed executor.
    const starts = h.sideEffects().filter((e) => e.phase === "start");
    const byStep = new Map<string, typeof starts>();
    for (const e of starts) byStep.set(e.stepId, [...(byStep.get(e.stepId) ?? []), e]);
    expect(byStep.size).toBe(200 * 4);
    for (const [, executions] of byStep) {
      if (executions.length > 1) expect(executions.some((e) => e.pid === victim.pid)).toBe(true);
    }
  });

  it("survives SIGKILL of the coordinator mid-turn", async () => {
    h = await startHarness("crash_coordinator", { executors: 1, env: fastRecovery });
    const { inputs, runs } = await startPipelines(h, 200, 10);
    await until("some steps to finish", () => h!.sideEffects().length > 100);
    const victim = h.stack.coordinators[0]!;
    victim.kill("SIGKILL");
    await victim.exited;
    await h.stack.add("coordinator");
    await expectAllCompleted(
      h,
      inputs,
      runs.map((r) => r.id),
    );
    const starts = h.sideEffects().filter((e) => e.phase === "start");
    // The coordinator holds no step executions: a coordinator crash re-runs no step.
    expect(starts).toHaveLength(200 * 4);
  });

  it("survives the journal being killed and restarted", async () => {
    h = await startHarness("crash_journal", { executors: 1, env: fastRecovery });
    const { inputs, runs } = await startPipelines(h, 200, 10);
    await until("some steps to finish", () => h!.sideEffects().length > 100);
    await h.stack.restartJournal("SIGKILL");
    await expectAllCompleted(
      h,
      inputs,
      runs.map((r) => r.id),
    );
  });
});
