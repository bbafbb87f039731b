// Reset through the real services. The pipeline's summarize fails non-retryably (a bug); a fixed
// executor is deployed; ResetWorkflow from summarize completes the run without running extract
// and the analyses again, and RetryFailed does the same for the other failed runs, page by page.
// A step of the old generation that finishes after a reset is acknowledged and ignored.
import { RunStatus, StepStatus } from "@weft/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, versionedAppPath } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("reset", {
    app: versionedAppPath,
    serviceEnv: { executor: { WEFT_E2E_SUMMARIZE: "broken" } },
  });
});
afterAll(async () => {
  await h?.stop();
});

const executions = (runId: string, name: string) =>
  h.sideEffects().filter((e) => e.runId === runId && e.name === name && e.phase === "start").length;

describe("reset and retry of failed runs", () => {
  it("a failed pipeline run, reset from the failed step after the fix, completes", async () => {
    const runs = await Promise.all(["doc-1", "doc-2", "doc-3", "doc-4"].map((input) => h.start("pipeline", input)));
    for (const run of runs) {
      const failed = await h.finished(run.id);
      expect(failed.status).toBe(RunStatus.FAILED);
      expect(failed.error?.message).toContain("summarize is broken");
    }
    const [first, ...rest] = runs;
    const before = await h.history(first!.id);
    expect(before.steps.map((s) => [s.seq, s.name, s.status])).toEqual([
      [1, "extract", StepStatus.COMPLETED],
      [2, "analyzeA", StepStatus.COMPLETED],
      [3, "analyzeB", StepStatus.COMPLETED],
      [4, "summarize", StepStatus.FAILED],
    ]);

    // The fix: executors with the corrected summarize replace the broken one.
    for (const old of h.stack.executors.splice(0)) await old.stop();
    h.stack.executors.push(await h.stack.add("executor", { WEFT_E2E_SUMMARIZE: "fixed" }));

    const reset = await h.client.resetWorkflow({ runId: first!.id, fromStepName: "summarize", reason: "fixed" });
    expect(reset.fromSeq).toBe(4);
    expect(reset.run?.generation).toBe(2);
    const done = await h.finished(first!.id);
    expect(done.status).toBe(RunStatus.COMPLETED);
    expect(h.result(done)).toBe("A(text(doc-1)) + B(text(doc-1))");
    // extract and the analyses kept their results; summarize ran again.
    expect(["extract", "analyzeA", "analyzeB", "summarize"].map((n) => executions(first!.id, n))).toEqual([1, 1, 1, 2]);
    const after = await h.history(first!.id);
    const gen2 = after.steps.filter((s) => s.generation === 2);
    expect(gen2.map((s) => [s.seq, s.name, s.status])).toEqual([
      [1, "extract", StepStatus.COMPLETED],
      [2, "analyzeA", StepStatus.COMPLETED],
      [3, "analyzeB", StepStatus.COMPLETED],
      [4, "summarize", StepStatus.COMPLETED],
    ]);
    expect(gen2.slice(0, 3).map((s) => s.completionOrder)).toEqual(
      before.steps.slice(0, 3).map((s) => s.completionOrder),
    );

    // The other three, in bulk: a dry run counts, then pages of two reset them.
    const dry = await h.client.retryFailed({ workflowName: "pipeline", errorContains: "broken", dryRun: true });
    expect(dry.count).toBe(3);
    const reset2: string[] = [];
    let pageToken = "";
    do {
      const page = await h.client.retryFailed({
        workflowName: "pipeline",
        errorContains: "broken",
        pageSize: 2,
        pageToken,
      });
      reset2.push(...page.runIds);
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(reset2.sort()).toEqual(rest.map((r) => r.id).sort());
    for (const run of rest) {
      const finished = await h.finished(run.id);
      expect(finished.status).toBe(RunStatus.COMPLETED);
      expect(executions(run.id, "extract")).toBe(1);
      expect(executions(run.id, "summarize")).toBe(2);
    }
  });

  it("a step of the old generation that finishes after the reset is acknowledged and ignored", async () => {
    const run = await h.start("slowOne", 1500);
    let oldStepId = "";
    for (let i = 0; i < 200 && !oldStepId; i++) {
      oldStepId = h.sideEffects().find((e) => e.runId === run.id && e.name === "slow")?.stepId ?? "";
      if (!oldStepId) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(oldStepId).not.toBe("");
    await h.client.resetWorkflow({ runId: run.id, fromSeq: 1 });
    const done = await h.finished(run.id);
    expect(done.status).toBe(RunStatus.COMPLETED);
    const { steps } = await h.history(run.id);
    const newStep = steps.find((s) => s.generation === 2 && s.seq === 1)!;
    // The result is the new generation's execution, not the old one's.
    expect(h.result(done)).toBe(newStep.id);
    // The old execution ran to its end and its result reached the journal, which acknowledged it
    // as stale (the executor acks the task) and did not apply it.
    const staleResults = async () => {
      const text = await (await fetch(`${h.stack.journalUrl}/metrics`)).text();
      return Number(/^weft_journal_results_total\{status="stale"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    for (let i = 0; i < 200 && (await staleResults()) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(h.sideEffects().some((e) => e.stepId === oldStepId && e.phase === "end")).toBe(true);
    expect(await staleResults()).toBe(1);
    const old = (await h.history(run.id)).steps.find((s) => s.id === oldStepId)!;
    expect(old.status).toBe(StepStatus.CANCELED);
    expect(old.result.length).toBe(0);
    const [ack] = await h.sql<{ n: string }>(
      "SELECT count(*) AS n FROM steps WHERE run_id = $1 AND status = 'completed'",
      [run.id],
    );
    expect(Number(ack?.n)).toBe(1);
  });
});
