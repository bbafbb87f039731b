// The pipeline at load: 500 runs started concurrently all complete with the right results, the
// two analyze steps ran in parallel, and each step ran exactly once (nothing failed).
import { RunStatus } from "@weft/contracts";
import { expectedSummary } from "@weft/example-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("pipeline");
});
afterAll(async () => {
  await h?.stop();
});

describe("the pipeline", () => {
  it("runs 500 concurrent workflows to the right results, each step once", async () => {
    const n = 500;
    const inputs = Array.from({ length: n }, (_, id) => ({
      id,
      text: `run ${id} of the pipeline test`,
      stepMs: { extract: 5, analyzeA: 250, analyzeB: 250, summarize: 5 },
    }));
    const runs = await Promise.all(inputs.map((input) => h.start("loggedPipeline", input)));
    const finished = await Promise.all(runs.map((run) => h.finished(run.id, 120_000)));

    for (const [i, run] of finished.entries()) {
      expect(run.status, `run ${run.id}`).toBe(RunStatus.COMPLETED);
      const result = h.result<{
        summary: string;
        A: { startedAt: number; endedAt: number };
        B: { startedAt: number; endedAt: number };
      }>(run);
      expect(result.summary).toBe(expectedSummary(inputs[i]!));
      // analyzeA and analyzeB overlapped in time: each started before the other ended.
      expect(result.A.startedAt).toBeLessThan(result.B.endedAt);
      expect(result.B.startedAt).toBeLessThan(result.A.endedAt);
    }

    const effects = h.sideEffects().filter((e) => e.phase === "start");
    expect(effects).toHaveLength(n * 4);
    const perStep = new Map<string, number>();
    for (const e of effects) perStep.set(e.stepId, (perStep.get(e.stepId) ?? 0) + 1);
    expect(perStep.size).toBe(n * 4);
    expect([...perStep.values()].every((count) => count === 1)).toBe(true);

    // Both analyze steps were journaled by the same turn (one commit), before either finished.
    const turns = await h.sql<{ same: boolean }>(
      `SELECT a.created_at = b.created_at AS same
         FROM steps a JOIN steps b ON a.run_id = b.run_id AND a.seq = 2 AND b.seq = 3`,
    );
    expect(turns).toHaveLength(n);
    expect(turns.every((t) => t.same)).toBe(true);

    const [row] = await h.sql<{ steps: string; attempts: string }>(
      "SELECT count(*) AS steps, sum(attempt) AS attempts FROM steps WHERE kind <> 'on_complete'",
    );
    expect(Number(row?.steps)).toBe(n * 4);
    expect(Number(row?.attempts)).toBe(n * 4);
  });
});
