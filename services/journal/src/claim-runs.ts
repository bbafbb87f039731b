// ClaimRuns: leases a batch of claimable runs with one UPDATE ... SKIP LOCKED, then takes what
// each claim carries (claims.ts: the whole journal on a generation's first turn, else the outcomes
// not yet delivered), in one transaction.
import { create } from "@bufbuild/protobuf";
import { type ClaimRunsRequest, type ClaimRunsResponse, ClaimRunsResponseSchema } from "@weft/contracts";
import { claimsOf, DEFAULT_LEASE_MS } from "./claims.ts";
import type { JournalContext } from "./context.ts";
import { claimRuns as claim } from "./store/runs.ts";
import { inDatabaseSpan, observeBatch } from "./telemetry.ts";
import { invalid, optionalText, requireCount, requireName, requireRange } from "./validation.ts";

export const MAX_CLAIM = 10_000;

export async function claimRuns(j: JournalContext, req: ClaimRunsRequest): Promise<ClaimRunsResponse> {
  const owner = requireName("owner", req.owner);
  const maxRuns = requireRange("max_runs", req.maxRuns, 1, MAX_CLAIM);
  const leaseMs = req.leaseMs === 0 ? DEFAULT_LEASE_MS : requireRange("lease_ms", req.leaseMs, 100, 3_600_000);
  for (const [i, shard] of req.shards.entries()) {
    if (shard >= j.config.shards) throw invalid(`shards[${i}]`, `shard ${shard} is not below ${j.config.shards}`);
  }
  requireCount("app_versions", req.appVersions.length, 0, 100);
  const appVersions = req.appVersions.map((v, i) => optionalText(`app_versions[${i}]`, v, 256) ?? "");
  const claimed = await inDatabaseSpan(j, "claimRuns", () =>
    j.db
      .transaction()
      .execute(async (trx) => claimsOf(trx, await claim(trx, owner, maxRuns, leaseMs, req.shards, appVersions))),
  );
  observeBatch(j.metrics, "ClaimRuns", claimed.length);
  // Short: nothing claimable is left waiting for this owner, so its stream may push again.
  if (claimed.length < maxRuns) j.claims.drained(owner);
  return create(ClaimRunsResponseSchema, { runs: claimed });
}
