// Diagnose (OperatorService): where work piles up or waits. Per shard: the journal's ready runs
// and their lag, leased runs, running tasks, the shard's executor; and its JetStream consumer's
// pending and unacked tasks with the age of the oldest unacked one. Then ready runs unclaimed for
// long, steps in progress past their timeout, and ready runs by app version. Read-only.
import { create } from "@bufbuild/protobuf";
import type { JetStreamManager, MsgRequest } from "@nats-io/jetstream";
import {
  type DiagnoseRequest,
  type DiagnoseResponse,
  DiagnoseResponseSchema,
  OverdueStepSchema,
  ShardBacklogSchema,
  toTimestamp,
  VersionReportSchema,
  VersionWaitSchema,
  WaitingRunSchema,
} from "@weft/contracts";
import { shardConsumer, taskStream, taskSubject } from "@weft/runtime";
import { DEFAULT_COORDINATOR_TTL_MS } from "./config.ts";
import type { JournalContext } from "./context.ts";
import { overdueSteps, readyRunsByVersion, shardFigures, shardOwners, unclaimedRuns } from "./store/diagnose.ts";
import { invalid, requireRange } from "./validation.ts";

export const DEFAULT_DIAGNOSE_LIMIT = 20;
export const DEFAULT_UNCLAIMED_MS = 30_000;
const MAX_THRESHOLD_MS = 7 * 24 * 3600 * 1000;

interface ConsumerFigures {
  pending: number;
  ackPending: number;
  oldestUnackedAgeMs: number;
}

/** The shard consumer's backlog; the oldest unacked task is the first message after the ack floor. */
async function consumerFigures(jsm: JetStreamManager, prefix: string, shard: number): Promise<ConsumerFigures> {
  const stream = taskStream(prefix);
  const info = await jsm.consumers.info(stream, shardConsumer(prefix, shard));
  let oldestUnackedAgeMs = 0;
  if (info.num_pending + info.num_ack_pending > 0) {
    // The work-queue stream keeps only unacked messages: the first one on the shard's subject at
    // or after the ack floor is the oldest task not yet acked (delivered or not). The server's
    // message-get takes next_by_subj with a start seq; the client's type lists only seq.
    const query = { seq: info.ack_floor.stream_seq + 1, next_by_subj: taskSubject(prefix, shard) };
    const msg = await jsm.streams.getMessage(stream, query as unknown as MsgRequest).catch(() => null);
    if (msg) oldestUnackedAgeMs = Math.max(0, Date.now() - msg.time.getTime());
  }
  return { pending: info.num_pending, ackPending: info.num_ack_pending, oldestUnackedAgeMs };
}

export async function diagnose(
  j: JournalContext,
  jsm: JetStreamManager,
  req: DiagnoseRequest,
): Promise<DiagnoseResponse> {
  const thresholdMs =
    req.unclaimedThresholdMs === 0n
      ? (j.config.diagnoseUnclaimedMs ?? DEFAULT_UNCLAIMED_MS)
      : Number(req.unclaimedThresholdMs);
  if (req.unclaimedThresholdMs < 0n || thresholdMs > MAX_THRESHOLD_MS) {
    throw invalid(
      "unclaimed_threshold_ms",
      `must be between 0 and ${MAX_THRESHOLD_MS}, got ${req.unclaimedThresholdMs}`,
    );
  }
  const limit = req.limit === 0 ? DEFAULT_DIAGNOSE_LIMIT : requireRange("limit", req.limit, 1, 1000);

  const warnings: string[] = [];
  const [shards, owners, unclaimed, overdue, versions, consumers] = await Promise.all([
    shardFigures(j.db),
    shardOwners(j.db),
    unclaimedRuns(j.db, thresholdMs, limit),
    overdueSteps(j.db, j.config.dispatchTimeoutMs, limit),
    readyRunsByVersion(j.db, j.config.coordinatorTtlMs ?? DEFAULT_COORDINATOR_TTL_MS),
    Promise.all(
      Array.from({ length: j.config.shards }, (_, shard) =>
        consumerFigures(jsm, j.config.prefix, shard).catch((err: Error) => {
          warnings.push(`shard ${shard}: JetStream consumer info failed: ${err.message}`);
          return undefined;
        }),
      ),
    ),
  ]);
  const ownerOf = new Map(owners.map((o) => [o.shard, o.owner ?? ""]));
  let readyRuns = 0;
  let oldestReady = 0;
  const backlog = shards.map((s) => {
    readyRuns += s.ready_runs;
    oldestReady = Math.max(oldestReady, s.oldest_ready_age_ms);
    const c = consumers[s.shard];
    return create(ShardBacklogSchema, {
      shard: s.shard,
      readyRuns: BigInt(s.ready_runs),
      oldestReadyAgeMs: BigInt(Math.round(s.oldest_ready_age_ms)),
      leasedRuns: BigInt(s.leased_runs),
      runningTasks: BigInt(s.running_tasks),
      tasksPending: BigInt(c?.pending ?? 0),
      tasksAckPending: BigInt(c?.ackPending ?? 0),
      oldestUnackedAgeMs: BigInt(Math.round(c?.oldestUnackedAgeMs ?? 0)),
      executor: ownerOf.get(s.shard) ?? "",
    });
  });
  return create(DiagnoseResponseSchema, {
    generatedAt: toTimestamp(Date.now()),
    shards: backlog,
    readyRuns: BigInt(readyRuns),
    oldestReadyAgeMs: BigInt(Math.round(oldestReady)),
    unclaimedThresholdMs: BigInt(thresholdMs),
    unclaimedRuns: unclaimed.rows.map((r) =>
      create(WaitingRunSchema, {
        runId: r.id,
        workflowName: r.workflow_name,
        shard: r.shard,
        readyAgeMs: BigInt(Math.round(r.age_ms)),
        appVersion: r.app_version ?? "",
      }),
    ),
    unclaimedRunsTotal: BigInt(unclaimed.total),
    overdueSteps: overdue.rows.map((s) =>
      create(OverdueStepSchema, {
        stepId: s.id,
        runId: s.run_id,
        seq: s.seq,
        name: s.name,
        kind: s.kind,
        overdueMs: BigInt(Math.max(0, Math.round(s.overdue_ms))),
        attempt: s.attempt,
        dispatch: s.dispatch,
      }),
    ),
    overdueStepsTotal: BigInt(overdue.total),
    versions: create(VersionReportSchema, {
      // Coordinators claim only the version they carry: a ready run of a version no live
      // coordinator carries waits (carried = false) until one registers.
      available: true,
      note: "ready runs by app version; carried: a live coordinator registered it",
      waiting: versions.map((v) =>
        create(VersionWaitSchema, {
          appVersion: v.app_version,
          readyRuns: BigInt(v.ready_runs),
          oldestReadyAgeMs: BigInt(Math.round(v.oldest_ready_age_ms)),
          carried: v.carried,
        }),
      ),
    }),
    warnings,
  });
}
