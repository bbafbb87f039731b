// The coordinator's claim stream is closed and reopened every WEFT_CLAIM_STREAM_ROTATE_RUNS runs
// (the Connect client holds every message of a streaming call until the call ends). Here it
// rotates after every run it carries, under 300 concurrent pipelines: every run completes with the right
// result, each step ran once, and the stream did rotate while claims kept being pushed.
import { RunStatus } from "@weft/contracts";
import { expectedSummary } from "@weft/example-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("claim-stream", { env: { WEFT_CLAIM_STREAM_ROTATE_RUNS: "1" } });
});
afterAll(async () => {
  await h?.stop();
});

async function coordinatorMetric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.stack.coordinators[0]?.port}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) if (line.startsWith(name)) total += Number(line.split(" ").at(-1));
  return total;
}

describe("claim stream rotation", () => {
  it("loses no claim while the stream is reopened after every run it carries", async () => {
    const n = 300;
    const inputs = Array.from({ length: n }, (_, id) => ({
      id,
      text: `run ${id} of the claim stream test`,
      stepMs: { extract: 1, analyzeA: 20, analyzeB: 20, summarize: 1 },
    }));
    const runs = await Promise.all(inputs.map((input) => h.start("loggedPipeline", input)));
    const finished = await Promise.all(runs.map((run) => h.finished(run.id, 120_000)));
    for (const [i, run] of finished.entries()) {
      expect(run.status, `run ${run.id}`).toBe(RunStatus.COMPLETED);
      expect(h.result<{ summary: string }>(run).summary).toBe(expectedSummary(inputs[i]!));
    }
    const starts = h.sideEffects().filter((e) => e.phase === "start");
    expect(starts).toHaveLength(n * 4);
    expect(new Set(starts.map((e) => e.stepId)).size).toBe(n * 4);

    const pushed = await coordinatorMetric('weft_coordinator_claimed_runs_total{source="pushed"');
    const rotations = await coordinatorMetric("weft_coordinator_claim_stream_rotations_total");
    process.stdout.write(`claim stream: ${pushed} pushed claims, ${rotations} rotations\n`);
    expect(pushed).toBeGreaterThan(100);
    // The stream is closed after the first message that carries a run: it ends and reopens once
    // for each push the journal makes (at 20 runs a stream carried one large push or two, so the
    // count of rotations followed the journal's batching).
    expect(rotations).toBeGreaterThanOrEqual(5);
  });
});
