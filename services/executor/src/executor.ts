// Wires the executor: registration with the journal, shard leases → shard consumers → dispatcher
// → step runner → flusher → acks, plus rate-limit notices, task keep-alive and the health server.
// `stop()` is the graceful drain: not serving, stop pulling, finish (or at the deadline abandon)
// running handlers, flush, ack, release shard leases, close NATS, close the server.
// Prometheus metrics are served on GET /metrics of the executor port (metrics.ts).
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { SpanKind } from "@opentelemetry/api";
import { StepKind as ProtoStepKind, WorkerRole } from "@weft/contracts";
import {
  bearerInterceptor,
  connectNats,
  decodeRunIds,
  type Logger,
  runEndsSubject,
  startServer,
  taskStream,
} from "@weft/runtime";
import type { App, StepKind } from "@weft/sdk";
import { clientTraceInterceptor, metricsHandler } from "@weft/telemetry";
import { Backpressure } from "./backpressure.ts";
import type { ExecutorConfig } from "./config.ts";
import { ResultFlusher } from "./flush.ts";
import { DRAIN_DEADLINE, HeldTasks } from "./held-tasks.ts";
import { createJournalClient, type JournalClient } from "./journal-client.ts";
import { createExecutorMetrics, type ExecutorMetrics, QueueLagPoller, registerGauges } from "./metrics.ts";
import { RateLimits } from "./rate-limits.ts";
import { ensureShardConsumer, ShardConsumer } from "./shard-consumer.ts";
import { ShardLeases } from "./shard-leases.ts";
import { StepRunner } from "./step-runner.ts";
import { TaskDispatcher } from "./task-dispatcher.ts";
import { tracer } from "./tracing.ts";

export interface StartExecutorOptions {
  config: ExecutorConfig;
  app: App;
  logger: Logger;
  /** For tests: a journal client other than one for config.journalUrl. */
  journal?: JournalClient;
}

export interface RunningExecutor {
  readonly port: number;
  readonly executorId: string;
  /** Shards consumed now. */
  shards(): number[];
  readonly stats: ExecutorStats;
  /** The Prometheus registry behind GET /metrics. */
  readonly metrics: ExecutorMetrics;
  /** Graceful drain; resolves when everything is flushed (or abandoned at the deadline) and closed. */
  stop(): Promise<void>;
}

export interface ExecutorStats {
  readonly dispatcher: TaskDispatcher["stats"];
  readonly flush: ResultFlusher["stats"];
  readonly backpressurePauses: Backpressure["pauses"];
  held(): number;
}

/** Tasks held (running or awaiting their flush) per concurrency slot. */
const HELD_PER_SLOT = 4;

const KIND: Record<StepKind, ProtoStepKind> = {
  query: ProtoStepKind.QUERY,
  mutation: ProtoStepKind.MUTATION,
  action: ProtoStepKind.ACTION,
};

export async function startExecutor(options: StartExecutorOptions): Promise<RunningExecutor> {
  const { config, app } = options;
  const logger = options.logger.child({ executorId: config.executorId });
  const journal =
    options.journal ??
    createJournalClient(config.journalUrl, [clientTraceInterceptor, bearerInterceptor(config.serviceToken)]);
  const metrics = createExecutorMetrics();

  const registered = await register(journal, config, app, logger);
  if (registered.subjectPrefix && registered.subjectPrefix !== config.prefix) {
    throw new Error(
      `WEFT_PREFIX is "${config.prefix}" but the journal publishes tasks under "${registered.subjectPrefix}"`,
    );
  }

  const nc = await connectNats(config.natsUrl, `executor ${config.executorId}`, {}, config.natsAuth);
  const js = jetstream(nc);
  const stream = taskStream(config.prefix);
  const rateLimits = new RateLimits({ nc, prefix: config.prefix, executorId: config.executorId, logger });
  await rateLimits.start();

  const held = new HeldTasks({
    keepAliveMs: config.keepAliveMs,
    logger,
    heartbeat: async (stepIds) =>
      (await journal.heartbeatSteps({ executorId: config.executorId, stepIds })).finishedStepIds,
  });
  // An older journal does not say (0): steps are heartbeated at the keep-alive.
  if (registered.dispatchTimeoutMs > 0) held.fitDispatchTimeout(registered.dispatchTimeoutMs);
  held.start();
  // The journal's notices of ended runs (a cancel, a failure, a completion) get the held steps of
  // those runs checked at once, and the finished ones stopped; heartbeats still find them when a
  // notice is lost or this NATS user may not subscribe to them.
  nc.subscribe(runEndsSubject(config.prefix), {
    callback: (err, msg) => {
      if (err) {
        logger.warn({ err }, "no run-end notices: running steps of ended runs stop at their next heartbeat");
        return;
      }
      void held.runsEnded(decodeRunIds(msg.data)).then((aborted) => {
        if (aborted > 0) logger.debug({ aborted }, "stopped the running steps of ended runs");
      });
    },
  });
  const flusher = new ResultFlusher({
    maxResults: config.flushMaxResults,
    maxBytes: config.flushMaxBytes,
    maxCalls: config.flushMaxCalls,
    logger,
    record: async (results, signal) => {
      await journal.recordResultBatch({ executorId: config.executorId, results }, { signal });
    },
    isRejection: (err) => ConnectError.from(err).code === Code.InvalidArgument,
    // Runs under the flush span: the ack batch is its child.
    recorded: (entries) => {
      const span = tracer.startSpan(`ack ${stream}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "settle",
          "messaging.operation.name": "ack",
          "messaging.destination.name": stream,
          "messaging.batch.message_count": entries.length,
        },
      });
      for (const e of entries) held.ack(e.held);
      metrics.acks.inc(entries.length);
      span.end();
    },
    metrics,
  });
  const runner = new StepRunner({ app, rateLimits, logger });
  const tasks = new TaskDispatcher({
    held,
    runner,
    flusher,
    logger,
    onHandlerDone: () => backpressure.handlerFinished(),
    metrics,
  });
  const backpressure = new Backpressure(
    held,
    () => tasks.active,
    {
      concurrency: config.concurrency,
      // Results waiting for a slow journal keep their tasks held; bound those too.
      maxHeld: config.concurrency * HELD_PER_SLOT,
      maxInflightBytes: config.maxInflightBytes,
      maxHeapBytes: config.maxHeapBytes,
    },
    undefined,
    (reason) => metrics.backpressurePauses.inc({ reason }),
  );

  const consumers = new Map<number, ShardConsumer>();
  const stopping = new Set<Promise<void>>();
  const starting = new Set<Promise<void>>();
  let draining = false;
  const startShard = async (shard: number) => {
    try {
      held.fitAckWait(await ensureShardConsumer(nc, config.prefix, shard));
    } catch (err) {
      logger.warn({ err, shard }, "could not ensure the shard's consumer; pulling anyway");
    }
    if (draining || consumers.has(shard) || !leases.shards.includes(shard)) return;
    const consumer = new ShardConsumer({
      shard,
      prefix: config.prefix,
      js,
      backpressure,
      fetchBatch: config.fetchBatch,
      fetchExpiresMs: config.fetchExpiresMs,
      logger,
      deliver: (msg, receive) => tasks.deliver(msg, receive),
      metrics,
    });
    consumers.set(shard, consumer);
    consumer.start();
  };
  const stopShard = (shard: number) => {
    const consumer = consumers.get(shard);
    if (!consumer) return;
    consumers.delete(shard);
    // Tasks already held from a lost shard still finish and are acked normally.
    const p = consumer.stop().finally(() => stopping.delete(p));
    stopping.add(p);
  };
  const leases = new ShardLeases({
    journal,
    executorId: config.executorId,
    leaseMs: config.shardLeaseMs,
    logger,
    onChange: ({ gained, lost }) => {
      for (const shard of lost) stopShard(shard);
      for (const shard of gained) {
        const p = startShard(shard).finally(() => starting.delete(p));
        starting.add(p);
      }
    },
  });

  registerGauges(metrics, {
    handlersRunning: () => tasks.active,
    heldTasks: () => held.count,
    heldBytes: () => held.bytes,
    bufferedResults: () => flusher.pending,
    flushCallsInFlight: () => flusher.callsInFlight,
    shardLeases: () => leases.shards.length,
  });
  let jsm: Promise<JetStreamManager> | undefined;
  const queueLag = new QueueLagPoller({
    metrics,
    jsm: () => {
      jsm ??= jetstreamManager(nc).catch((err: unknown) => {
        jsm = undefined;
        throw err;
      });
      return jsm;
    },
    prefix: config.prefix,
    shards: () => [...consumers.keys()],
    intervalMs: config.queueLagIntervalMs,
    logger,
  });

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      port: config.port,
      routes: () => {},
      services: [],
      fallback: metricsHandler(metrics.registry),
    });
    try {
      await leases.start();
      await Promise.all([...starting]);
    } catch (err) {
      await server.close(100);
      throw err;
    }
  } catch (err) {
    // Leave nothing running behind a failed start (embedding processes and tests stay alive).
    held.stop();
    await rateLimits.stop();
    await nc.close();
    throw err;
  }
  queueLag.start();
  server.health.setServing(true);
  logger.info({ shards: leases.shards, shardCount: leases.shardCount }, "executor started");

  let stopped: Promise<void> | undefined;
  const drain = async () => {
    const step = async (name: string, fn: () => Promise<unknown> | unknown) => {
      logger.info(`drain: ${name}`);
      try {
        await fn();
      } catch (err) {
        logger.error({ err }, `drain: ${name} failed`);
      }
    };
    const deadline = Date.now() + config.drainTimeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    await step("not serving", () => server.health.setServing(false));
    await step("stop pulling", async () => {
      draining = true;
      for (const shard of [...consumers.keys()]) stopShard(shard);
      await Promise.all([...stopping]);
    });
    await step("finish running steps", async () => {
      const timer = sleep(left(), "deadline" as const, { ref: false });
      if ((await Promise.race([tasks.idle(), timer])) === "deadline") {
        logger.warn({ running: tasks.active }, "drain deadline: aborting running steps (redelivered)");
        held.abortAll(DRAIN_DEADLINE);
        await tasks.idle();
      }
    });
    await step("flush results", async () => {
      // Recording gets a little time even when the handlers used up the deadline.
      const flushed = await flusher.drain(Math.max(left(), Math.min(5_000, config.drainTimeoutMs)));
      if (!flushed) logger.warn("results not recorded before the deadline; their tasks will be redelivered");
    });
    await step("give back unfinished tasks", () => {
      held.stop();
      const released = held.releaseAll();
      if (released > 0) logger.warn({ released }, "gave back unrecorded tasks");
    });
    await step("send acks", () => nc.flush());
    await step("stop queue-lag polling", () => queueLag.stop());
    await step("release shard leases", () => leases.stop());
    await step("stop rate-limit notices", () => rateLimits.stop());
    await step("close NATS", () => nc.close());
    await step("close server", () => server.close());
    logger.info("executor stopped");
  };

  return {
    port: server.port,
    executorId: config.executorId,
    shards: () => [...consumers.keys()].sort((a, b) => a - b),
    stats: {
      dispatcher: tasks.stats,
      flush: flusher.stats,
      backpressurePauses: backpressure.pauses,
      held: () => held.count,
    },
    metrics,
    stop: () => {
      stopped ??= drain();
      return stopped;
    },
  };
}

/** RegisterWorker, retried while the journal is starting up. */
async function register(journal: JournalClient, config: ExecutorConfig, app: App, logger: Logger) {
  const request = {
    workerId: config.executorId,
    role: WorkerRole.EXECUTOR,
    appVersion: app.version,
    workflows: [...app.workflows.values()].map((w) => ({ name: w.name, hasOnComplete: w.onComplete !== undefined })),
    steps: [...app.steps.values()].map((s) => ({ name: s.name, kind: KIND[s.kind] })),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await journal.registerWorker(request);
    } catch (err) {
      if (attempt >= 20) throw err;
      logger.warn({ err, attempt }, "journal not reachable yet; retrying RegisterWorker");
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}
