// The executor's Prometheus metrics (served on GET /metrics of the executor port). Counters are
// bumped where things happen; gauges of state (held tasks, handlers running, leases, buffered
// results) are read at scrape time; queue lag per owned shard is polled on an interval
// (QueueLagPoller), never on the hot path.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "@weft/runtime";
import { shardConsumer, taskStream } from "@weft/runtime";
import { batchSizeBuckets, Counter, createMetricsRegistry, Gauge, Histogram, type Registry } from "@weft/telemetry";

export interface ExecutorMetrics {
  registry: Registry;
  stepsStarted: Counter<"step">;
  stepsFinished: Counter<"step" | "outcome">;
  stepsFailed: Counter<"step">;
  stepsAbandoned: Counter<"step">;
  stepSeconds: Histogram<"step">;
  attempts: Counter<"step">;
  retries: Counter<"step">;
  rateLimitPauses: Counter<"step">;
  flushResults: Histogram;
  flushBytes: Histogram;
  flushSeconds: Histogram;
  recordFailures: Counter;
  acks: Counter;
  fetchSize: Histogram;
  fetchFailures: Counter;
  backpressurePauses: Counter<"reason">;
  queueLag: Gauge<"shard">;
  queueMessages: Gauge<"shard" | "state">;
}

/** One step name's series, resolved once (label hashing per task was ~2% of the CPU per step). */
export interface StepSeries {
  started: { inc(): void };
  completed: { inc(): void };
  failedFinish: { inc(): void };
  failed: { inc(): void };
  abandoned: { inc(): void };
  seconds: { observe(v: number): void };
  attempts: { inc(): void };
  retries: { inc(): void };
  rateLimitPauses: { inc(): void };
}

const seriesCache = new WeakMap<object, Map<string, StepSeries>>();

type StepMetrics = Pick<
  ExecutorMetrics,
  | "stepsStarted"
  | "stepsFinished"
  | "stepsFailed"
  | "stepsAbandoned"
  | "stepSeconds"
  | "attempts"
  | "retries"
  | "rateLimitPauses"
>;

export function stepSeries(metrics: StepMetrics, step: string): StepSeries {
  let byStep = seriesCache.get(metrics);
  if (!byStep) {
    byStep = new Map();
    seriesCache.set(metrics, byStep);
  }
  let series = byStep.get(step);
  if (!series) {
    series = {
      started: metrics.stepsStarted.labels({ step }),
      completed: metrics.stepsFinished.labels({ step, outcome: "completed" }),
      failedFinish: metrics.stepsFinished.labels({ step, outcome: "failed" }),
      failed: metrics.stepsFailed.labels({ step }),
      abandoned: metrics.stepsAbandoned.labels({ step }),
      seconds: metrics.stepSeconds.labels({ step }),
      attempts: metrics.attempts.labels({ step }),
      retries: metrics.retries.labels({ step }),
      rateLimitPauses: metrics.rateLimitPauses.labels({ step }),
    };
    byStep.set(step, series);
  }
  return series;
}

/** Live state read at scrape time. */
export interface ExecutorGauges {
  handlersRunning(): number;
  heldTasks(): number;
  heldBytes(): number;
  bufferedResults(): number;
  flushCallsInFlight(): number;
  shardLeases(): number;
}

const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const byteBuckets = [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];

export function createExecutorMetrics(): ExecutorMetrics {
  const registry = createMetricsRegistry("executor");
  const registers = [registry];
  return {
    registry,
    stepsStarted: new Counter({
      name: "weft_executor_steps_started_total",
      help: "task deliveries whose handler started, by step name",
      labelNames: ["step"],
      registers,
    }),
    stepsFinished: new Counter({
      name: "weft_executor_steps_finished_total",
      help: "executions that ended in an outcome to record, by step name and outcome (completed, failed)",
      labelNames: ["step", "outcome"],
      registers,
    }),
    stepsFailed: new Counter({
      name: "weft_executor_steps_failed_total",
      help: "executions that ended in a failure (after their retries), by step name",
      labelNames: ["step"],
      registers,
    }),
    stepsAbandoned: new Counter({
      name: "weft_executor_steps_abandoned_total",
      help: "executions abandoned without an outcome (drain deadline, step finished elsewhere)",
      labelNames: ["step"],
      registers,
    }),
    stepSeconds: new Histogram({
      name: "weft_executor_step_seconds",
      help: "time from the start of the first attempt to the outcome, by step name",
      labelNames: ["step"],
      buckets: secondsBuckets,
      registers,
    }),
    attempts: new Counter({
      name: "weft_executor_step_attempts_total",
      help: "handler attempts, by step name",
      labelNames: ["step"],
      registers,
    }),
    retries: new Counter({
      name: "weft_executor_step_retries_total",
      help: "attempts that failed and were retried after a backoff, by step name",
      labelNames: ["step"],
      registers,
    }),
    rateLimitPauses: new Counter({
      name: "weft_executor_rate_limit_pauses_total",
      help: "attempts that hit a RateLimitError (the step name was paused on every executor)",
      labelNames: ["step"],
      registers,
    }),
    flushResults: new Histogram({
      name: "weft_executor_flush_batch_results",
      help: "results per RecordResultBatch call",
      buckets: batchSizeBuckets,
      registers,
    }),
    flushBytes: new Histogram({
      name: "weft_executor_flush_batch_bytes",
      help: "encoded result bytes per RecordResultBatch call",
      buckets: byteBuckets,
      registers,
    }),
    flushSeconds: new Histogram({
      name: "weft_executor_flush_seconds",
      help: "latency of a successful RecordResultBatch call",
      buckets: secondsBuckets,
      registers,
    }),
    recordFailures: new Counter({
      name: "weft_executor_record_failures_total",
      help: "RecordResultBatch calls that failed (retried with backoff, or bisected when rejected)",
      registers,
    }),
    acks: new Counter({
      name: "weft_executor_acks_total",
      help: "task messages acked after their result was recorded (or their step was known finished)",
      registers,
    }),
    fetchSize: new Histogram({
      name: "weft_executor_fetch_batch_size",
      help: "task messages received per JetStream pull",
      buckets: [0, ...batchSizeBuckets],
      registers,
    }),
    fetchFailures: new Counter({
      name: "weft_executor_fetch_failures_total",
      help: "JetStream pulls that failed (retried with backoff)",
      registers,
    }),
    backpressurePauses: new Counter({
      name: "weft_executor_backpressure_pauses_total",
      help: "pulls held back by backpressure, by reason (concurrency, held, bytes, heap)",
      labelNames: ["reason"],
      registers,
    }),
    queueLag: new Gauge({
      name: "weft_executor_queue_lag",
      help: "task messages of an owned shard not yet acked (consumer num_pending + num_ack_pending)",
      labelNames: ["shard"],
      registers,
    }),
    queueMessages: new Gauge({
      name: "weft_executor_queue_messages",
      help: "task messages of an owned shard by state (pending: not delivered; ack_pending: delivered, unacked)",
      labelNames: ["shard", "state"],
      registers,
    }),
  };
}

/** Registers the gauges read at scrape time. */
export function registerGauges(metrics: ExecutorMetrics, gauges: ExecutorGauges): void {
  const registers = [metrics.registry];
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge("weft_executor_handlers_in_flight", "step handlers running now", gauges.handlersRunning);
  gauge("weft_executor_held_tasks", "task messages held unacked (running or awaiting their flush)", gauges.heldTasks);
  gauge("weft_executor_held_bytes", "bytes of the task messages held unacked", gauges.heldBytes);
  gauge("weft_executor_buffered_results", "results waiting for a RecordResultBatch call", gauges.bufferedResults);
  gauge("weft_executor_flush_calls_in_flight", "RecordResultBatch calls in flight", gauges.flushCallsInFlight);
  gauge("weft_executor_shard_leases", "shards this executor holds a lease on", gauges.shardLeases);
}

/**
 * Polls the consumer info of every owned shard on an interval and publishes its backlog as
 * gauges. One poll at a time; shards no longer owned lose their series.
 */
export class QueueLagPoller {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly known = new Set<number>();
  private readonly options: {
    metrics: ExecutorMetrics;
    jsm: () => Promise<JetStreamManager>;
    prefix: string;
    shards: () => number[];
    intervalMs: number;
    logger: Logger;
  };

  constructor(options: QueueLagPoller["options"]) {
    this.options = options;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }

  /** One poll of every owned shard; public for tests. */
  async poll(): Promise<void> {
    const { metrics, prefix, shards, logger } = this.options;
    const owned = shards();
    for (const shard of this.known) {
      if (owned.includes(shard)) continue;
      this.known.delete(shard);
      const s = String(shard);
      metrics.queueLag.remove({ shard: s });
      metrics.queueMessages.remove({ shard: s, state: "pending" });
      metrics.queueMessages.remove({ shard: s, state: "ack_pending" });
    }
    if (owned.length === 0) return;
    let jsm: JetStreamManager;
    try {
      jsm = await this.options.jsm();
    } catch (err) {
      logger.debug({ err }, "queue lag: no JetStream manager");
      return;
    }
    await Promise.all(
      owned.map(async (shard) => {
        try {
          const info = await jsm.consumers.info(taskStream(prefix), shardConsumer(prefix, shard));
          const s = String(shard);
          metrics.queueMessages.set({ shard: s, state: "pending" }, info.num_pending);
          metrics.queueMessages.set({ shard: s, state: "ack_pending" }, info.num_ack_pending);
          metrics.queueLag.set({ shard: s }, info.num_pending + info.num_ack_pending);
          this.known.add(shard);
        } catch (err) {
          logger.debug({ err, shard }, "queue lag: consumer info failed");
        }
      }),
    );
  }
}
