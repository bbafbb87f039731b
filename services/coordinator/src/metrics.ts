// The coordinator's Prometheus metrics.
import { batchSizeBuckets, Counter, createMetricsRegistry, Histogram, type Registry } from "@weft/telemetry";

export interface CoordinatorMetrics {
  registry: Registry;
  claims: Counter;
  claimBatch: Histogram;
  turns: Counter<"status">;
  commitBatch: Histogram;
  replaySeconds: Histogram;
  commitSeconds: Histogram;
  /** Claims by how they arrived: polled (ClaimRuns), pushed (StreamClaims), continued (CommitTurns). */
  claimed: Counter<"source">;
  /** ReadJournals calls for partial claims without a live execution. */
  journalReads: Counter;
  streamRotations: Counter;
}

export function createCoordinatorMetrics(): CoordinatorMetrics {
  const registry = createMetricsRegistry("coordinator");
  return {
    registry,
    claims: new Counter({ name: "weft_coordinator_claims_total", help: "ClaimRuns calls", registers: [registry] }),
    claimBatch: new Histogram({
      name: "weft_coordinator_claim_batch_size",
      help: "runs returned per claim",
      buckets: [0, ...batchSizeBuckets],
      registers: [registry],
    }),
    turns: new Counter({
      name: "weft_coordinator_turns_total",
      help: "turns by commit status (committed, fenced, not_running, replay_crashed)",
      labelNames: ["status"],
      registers: [registry],
    }),
    commitBatch: new Histogram({
      name: "weft_coordinator_commit_batch_size",
      help: "turns per CommitTurns call",
      buckets: batchSizeBuckets,
      registers: [registry],
    }),
    replaySeconds: new Histogram({
      name: "weft_coordinator_replay_seconds",
      help: "time to replay one run's turn",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: "weft_coordinator_commit_seconds",
      help: "CommitTurns call latency",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    claimed: new Counter({
      name: "weft_coordinator_claimed_runs_total",
      help: "claimed runs by source: polled (ClaimRuns), pushed (StreamClaims), continued (CommitTurns)",
      labelNames: ["source"],
      registers: [registry],
    }),
    journalReads: new Counter({
      name: "weft_coordinator_journal_reads_total",
      help: "full journals read for partial claims the coordinator held no live execution for",
      registers: [registry],
    }),
    streamRotations: new Counter({
      name: "weft_coordinator_claim_stream_rotations_total",
      help: "claim streams closed and reopened after carrying WEFT_CLAIM_STREAM_ROTATE_RUNS runs (bounds the client's memory)",
      registers: [registry],
    }),
  };
}
