// The journal's Prometheus metrics (served on GET /metrics of the journal's port): RPCs, batch
// sizes, results, task publishes, timers, run starts and ends, transactions, and gauges read from
// Postgres at scrape time (shard leases per executor, ready runs and their lag per shard).
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { batchSizeBuckets, Counter, createMetricsRegistry, Gauge, Histogram, type Registry } from "@weft/telemetry";
import { sql } from "kysely";
import type { Db } from "./db.ts";

export type BatchedMethod = "StartWorkflow" | "ClaimRuns" | "CommitTurns" | "RecordResultBatch";

export interface JournalMetrics {
  registry: Registry;
  rpcs: Counter<"method" | "code">;
  rpcSeconds: Histogram<"method">;
  /** Items per batched call, by method. */
  batchSize: Record<BatchedMethod, Histogram>;
  results: Counter<"status">;
  tasksPublished: Counter<"reason">;
  taskPublishFailures: Counter;
  taskStreamRecreations: Counter;
  timersFired: Counter<"kind">;
  runsStarted: Counter<"kind">;
  runsEnded: Counter<"status">;
  transactionSeconds: Histogram<"name">;
  /** Rows deleted by retention, by table. */
  retentionDeleted: Counter<"table">;
  /** Retention batches: deleted (some rows), empty (nothing old enough), skipped (another replica's turn). */
  retentionBatches: Counter<"outcome">;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createJournalMetrics(db?: Db): JournalMetrics {
  const registry = createMetricsRegistry("journal");
  const registers = [registry];
  const metrics: JournalMetrics = {
    registry,
    rpcs: new Counter({
      name: "weft_journal_rpc_total",
      help: "RPCs handled, by method and result code",
      labelNames: ["method", "code"],
      registers,
    }),
    rpcSeconds: new Histogram({
      name: "weft_journal_rpc_seconds",
      help: "RPC latency by method",
      labelNames: ["method"],
      buckets: latencyBuckets,
      registers,
    }),
    batchSize: {
      // StartWorkflow calls are group-committed: runs per INSERT.
      StartWorkflow: batchHistogram(
        registry,
        "weft_journal_start_batch_size",
        "runs inserted per StartWorkflow INSERT",
      ),
      ClaimRuns: batchHistogram(registry, "weft_journal_claim_batch_size", "runs claimed per ClaimRuns call"),
      CommitTurns: batchHistogram(registry, "weft_journal_commit_batch_size", "turns per CommitTurns call"),
      RecordResultBatch: batchHistogram(
        registry,
        "weft_journal_record_batch_size",
        "results per RecordResultBatch call",
      ),
    },
    results: new Counter({
      name: "weft_journal_results_total",
      help: "step results by outcome (recorded, duplicate, stale)",
      labelNames: ["status"],
      registers,
    }),
    tasksPublished: new Counter({
      name: "weft_journal_tasks_published_total",
      help: "step tasks published to JetStream (dispatched after a commit, republished by the sweeper)",
      labelNames: ["reason"],
      registers,
    }),
    taskPublishFailures: new Counter({
      name: "weft_journal_task_publish_failures_total",
      help: "task publishes that failed (the sweeper republishes them)",
      registers,
    }),
    taskStreamRecreations: new Counter({
      name: "weft_journal_task_stream_recreations_total",
      help: "times this journal re-created a lost task stream and republished the dispatched tasks",
      registers,
    }),
    timersFired: new Counter({
      name: "weft_journal_timers_fired_total",
      help: "timers fired (sleep: a sleep completed; event_timeout: an event wait failed)",
      labelNames: ["kind"],
      registers,
    }),
    runsStarted: new Counter({
      name: "weft_journal_runs_started_total",
      help: "runs created (root: StartWorkflow, child: a CHILD step)",
      labelNames: ["kind"],
      registers,
    }),
    runsEnded: new Counter({
      name: "weft_journal_runs_ended_total",
      help: "runs ended, by final status",
      labelNames: ["status"],
      registers,
    }),
    transactionSeconds: new Histogram({
      name: "weft_journal_db_transaction_seconds",
      help: "Postgres transaction latency by operation",
      labelNames: ["name"],
      buckets: latencyBuckets,
      registers,
    }),
    retentionDeleted: new Counter({
      name: "weft_journal_retention_deleted_total",
      help: "rows deleted by the retention job, by table (runs, steps, events)",
      labelNames: ["table"],
      registers,
    }),
    retentionBatches: new Counter({
      name: "weft_journal_retention_batches_total",
      help: "retention batches by outcome (deleted, empty, skipped: another replica held the turn)",
      labelNames: ["outcome"],
      registers,
    }),
  };
  for (const status of ["recorded", "duplicate", "stale"]) metrics.results.inc({ status }, 0);
  for (const reason of ["dispatched", "republished"]) metrics.tasksPublished.inc({ reason }, 0);
  for (const status of ["completed", "failed", "canceled"]) metrics.runsEnded.inc({ status }, 0);
  for (const kind of ["root", "child"]) metrics.runsStarted.inc({ kind }, 0);
  for (const kind of ["sleep", "event_timeout"]) metrics.timersFired.inc({ kind }, 0);
  for (const table of ["runs", "steps", "events"]) metrics.retentionDeleted.inc({ table }, 0);
  if (db) registerDatabaseGauges(registry, db);
  return metrics;
}

function batchHistogram(registry: Registry, name: string, help: string): Histogram {
  return new Histogram({ name, help, buckets: [0, ...batchSizeBuckets], registers: [registry] });
}

/** Gauges read from Postgres when scraped: they are right whichever journal replica made the change. */
function registerDatabaseGauges(registry: Registry, db: Db): void {
  const registers = [registry];
  new Gauge({
    name: "weft_journal_shard_leases_held",
    help: "unexpired shard leases held, by executor",
    labelNames: ["executor"],
    registers,
    async collect() {
      const rows = await safely(
        sql<{ owner: string; n: number }>`
          /* metrics */ SELECT owner, count(*)::int AS n FROM shard_leases
          WHERE owner IS NOT NULL AND expires_at >= now() GROUP BY owner`.execute(db),
      );
      this.reset();
      for (const r of rows) this.set({ executor: r.owner }, r.n);
    },
  });
  // One query feeds both gauges; a scrape collects every metric at once, so they share it.
  let pending: Promise<{ shard: number; n: number; age: number }[]> | undefined;
  const readyByShard = () => {
    pending ??= safely(
      sql<{ shard: number; n: number; age: number }>`
        /* metrics */ SELECT shard, count(*)::int AS n,
               coalesce(extract(epoch FROM now() - min(ready_at)), 0)::float8 AS age
        FROM runs WHERE status = 'running' AND ready AND lease_expires IS NULL GROUP BY shard`.execute(db),
    ).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: "weft_journal_ready_runs",
    help: "ready runs waiting for a coordinator, by shard",
    labelNames: ["shard"],
    registers,
    async collect() {
      const rows = await readyByShard();
      this.reset();
      for (const r of rows) this.set({ shard: String(r.shard) }, r.n);
    },
  });
  new Gauge({
    name: "weft_journal_ready_lag_seconds",
    help: "age of the oldest ready, unclaimed run, by shard (absent when none waits)",
    labelNames: ["shard"],
    registers,
    async collect() {
      const rows = await readyByShard();
      this.reset();
      for (const r of rows) this.set({ shard: String(r.shard) }, Math.max(r.age, 0));
    },
  });
}

async function safely<T>(query: Promise<{ rows: T[] }>): Promise<T[]> {
  try {
    return (await query).rows;
  } catch {
    // A scrape while Postgres is away reports no rows rather than failing /metrics.
    return [];
  }
}

/** Counts every RPC by method and code and times it. */
export function rpcMetricsInterceptor(metrics: JournalMetrics): Interceptor {
  return (next) => async (req) => {
    const method = req.method.name;
    const stop = metrics.rpcSeconds.startTimer({ method });
    try {
      const res = await next(req);
      metrics.rpcs.inc({ method, code: "ok" });
      return res;
    } catch (err) {
      const code = ConnectError.from(err).code;
      metrics.rpcs.inc({ method, code: Code[code] ?? String(code) });
      throw err;
    } finally {
      stop();
    }
  };
}
