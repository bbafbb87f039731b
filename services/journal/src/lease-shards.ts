// LeaseShards: an executor's shard leases, balanced across the live executors.
import { create } from "@bufbuild/protobuf";
import {
  type LeaseShardsRequest,
  type LeaseShardsResponse,
  LeaseShardsResponseSchema,
  toTimestamp,
} from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import { balanceLeases } from "./store/leases.ts";
import { inDatabaseSpan } from "./telemetry.ts";
import { invalid, requireName, requireRange } from "./validation.ts";

export async function leaseShards(j: JournalContext, req: LeaseShardsRequest): Promise<LeaseShardsResponse> {
  const executorId = requireName("executor_id", req.executorId);
  const leaseMs = requireRange("lease_ms", req.leaseMs, 500, 600_000);
  for (const [i, shard] of req.release.entries()) {
    if (shard >= j.config.shards) throw invalid(`release[${i}]`, `shard ${shard} is not below ${j.config.shards}`);
  }
  const { leases, live } = await inDatabaseSpan(j, "leaseShards", () =>
    balanceLeases(j.db, executorId, leaseMs, req.release, j.config.shards),
  );
  return create(LeaseShardsResponseSchema, {
    leases: leases.map((l) => ({ shard: l.shard, token: BigInt(l.token), expiresAt: toTimestamp(l.expires_at) })),
    shardCount: j.config.shards,
    liveExecutors: live,
  });
}
