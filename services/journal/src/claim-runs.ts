// ClaimRuns: leases a batch of claimable runs with one UPDATE ... SKIP LOCKED, then reads their
// current journals with one SELECT.
import { create } from "@bufbuild/protobuf";
import { type ClaimRunsRequest, type ClaimRunsResponse, ClaimRunsResponseSchema } from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import type { StepRow } from "./db.ts";
import { runToProto, stepToProto } from "./messages.ts";
import { claimRuns as claim } from "./store/runs.ts";
import { currentSteps } from "./store/steps.ts";
import { inDatabaseSpan, observeBatch } from "./telemetry.ts";
import { invalid, requireName, requireRange } from "./validation.ts";

export const MAX_CLAIM = 10_000;
export const DEFAULT_LEASE_MS = 30_000;

export async function claimRuns(j: JournalContext, req: ClaimRunsRequest): Promise<ClaimRunsResponse> {
  const owner = requireName("owner", req.owner);
  const maxRuns = requireRange("max_runs", req.maxRuns, 1, MAX_CLAIM);
  const leaseMs = req.leaseMs === 0 ? DEFAULT_LEASE_MS : requireRange("lease_ms", req.leaseMs, 100, 3_600_000);
  for (const [i, shard] of req.shards.entries()) {
    if (shard >= j.config.shards) throw invalid(`shards[${i}]`, `shard ${shard} is not below ${j.config.shards}`);
  }
  const { runs, steps } = await inDatabaseSpan(j, "claimRuns", async () => {
    const runs = await claim(j.db, owner, maxRuns, leaseMs, req.shards);
    const steps = await currentSteps(
      j.db,
      runs.map((r) => r.id),
    );
    return { runs, steps };
  });
  observeBatch(j.metrics, "ClaimRuns", runs.length);
  const byRun = new Map<string, StepRow[]>();
  for (const step of steps) {
    const list = byRun.get(step.run_id);
    if (list) list.push(step);
    else byRun.set(step.run_id, [step]);
  }
  return create(ClaimRunsResponseSchema, {
    runs: runs.map((run) => ({
      run: runToProto(run),
      leaseToken: BigInt(run.lease_token),
      steps: (byRun.get(run.id) ?? []).map(stepToProto),
    })),
  });
}
