// Wires the journal: migrations, JetStream stream and consumers, the RPC server, sweeper and
// timers; stop() undoes it in reverse order.

import type { ServiceImpl } from "@connectrpc/connect";
import { jetstreamManager } from "@nats-io/jetstream";
import { JournalService, OperatorService, WorkflowService } from "@weft/contracts";
import { authInterceptor, connectNats, createLogger, type Logger, startServer } from "@weft/runtime";
import { metricsHandler, serverTraceInterceptor } from "@weft/telemetry";
import { cancelWorkflow } from "./cancel-workflow.ts";
import { claimRuns } from "./claim-runs.ts";
import { ClaimHub, readJournals, streamClaims } from "./claims.ts";
import { commitTurns } from "./commit-turns.ts";
import { defaultRetention, type JournalConfig, journalLimits } from "./config.ts";
import type { JournalContext } from "./context.ts";
import { migrate, openDatabase, requireMigrated } from "./db.ts";
import { diagnose } from "./diagnose.ts";
import { getHistory, getWorkflow } from "./get-workflow.ts";
import { heartbeatSteps } from "./heartbeat-steps.ts";
import { leaseShards } from "./lease-shards.ts";
import { listWorkflows } from "./list-workflows.ts";
import { createJournalMetrics, type JournalMetrics, rpcMetricsInterceptor } from "./metrics.ts";
import { Notifier, RunWatches } from "./notifier.ts";
import { recordResultBatch } from "./record-result-batch.ts";
import { registerWorker } from "./register-worker.ts";
import { resetWorkflow, retryFailed } from "./reset-workflow.ts";
import { Retention } from "./retention.ts";
import { sendEvent } from "./send-event.ts";
import { StartBatcher, startWorkflow, startWorkflows } from "./start-workflow.ts";
import { ensureShards } from "./store/leases.ts";
import { republishDispatched, Sweeper } from "./sweeper.ts";
import { TaskPublisher } from "./task-publisher.ts";
import { TaskStreamGuard, untilJetStreamReady } from "./task-stream.ts";
import { databaseAttributes } from "./telemetry.ts";
import { Timers } from "./timers.ts";
import { WatchCounter, watchWorkflow } from "./watch-workflow.ts";

export interface RunningJournal {
  readonly port: number;
  /** Its Prometheus metrics (also served on GET /metrics of the port). */
  readonly metrics: JournalMetrics;
  stop(): Promise<void>;
}

export interface JournalOptions {
  logger?: Logger;
  /** Called with every SQL statement the journal runs (tests count statements per RPC). */
  onQuery?: (sql: string) => void;
}

export async function startJournal(config: JournalConfig, options: JournalOptions = {}): Promise<RunningJournal> {
  const logger = options.logger ?? createLogger("journal");
  const db = openDatabase(config.databaseUrl, config.dbPoolSize, {
    onQuery: options.onQuery,
    onIdleError: (err) => logger.warn({ err: err.message }, "idle Postgres connection lost; the pool reconnects"),
    preparedStatements: config.dbPreparedStatements ?? true,
    pipeline: config.dbPipeline ?? true,
  });
  const metrics = createJournalMetrics(db);
  const cleanup: { name: string; run: () => Promise<void> | void }[] = [{ name: "database", run: () => db.destroy() }];
  const stop = async () => {
    const steps = [...cleanup].reverse();
    for (const [i, step] of steps.entries()) {
      try {
        logger.info(`stopping ${step.name} (${i + 1}/${steps.length})`);
        await step.run();
      } catch (err) {
        logger.error({ err }, `stopping ${step.name} failed`);
      }
    }
    cleanup.length = 0;
  };
  try {
    if (config.migrateOnStart === false) await requireMigrated(db);
    else await migrate(db);
    await ensureShards(db, config.shards);
    const nc = await connectNats(config.natsUrl, "weft-journal", {}, config.natsAuth);
    cleanup.push({ name: "nats", run: () => nc.drain() });
    // A JetStream cluster still forming (electing its meta leader, or not yet knowing the peers a
    // replicated stream is placed on) is waited for, as the connection waits for a server.
    const jsm = await untilJetStreamReady("the JetStream API", () => jetstreamManager(nc), logger);
    const streamGuard = new TaskStreamGuard({
      jsm,
      prefix: config.prefix,
      shards: config.shards,
      ackWaitMs: config.taskAckWaitMs,
      replicas: config.streamReplicas,
      storage: config.taskStorage,
      logger,
      onRecreated: async () => {
        metrics.taskStreamRecreations.inc();
        await republishDispatched(j, logger);
      },
    });
    // Created here while tasks are journaled (a NATS restart lost a memory stream while the
    // journal was down): they are republished once the journal is up.
    const { created: streamCreated } = await untilJetStreamReady("the task stream", () => streamGuard.ensure(), logger);

    let timers: Timers | undefined;
    const j: JournalContext = {
      db,
      config,
      logger,
      notifier: new Notifier(nc, config.prefix),
      publisher: new TaskPublisher(nc, config.prefix, logger, metrics),
      metrics,
      claims: new ClaimHub(config.claimOrder),
      dbAttributes: databaseAttributes(config.databaseUrl),
      rearmTimers: (due) => timers?.rearm(due),
    };
    j.publisher.onFailure = () => void streamGuard.check();
    streamGuard.watch(nc);
    cleanup.push({ name: "task stream guard", run: () => streamGuard.stop() });

    const starts = new StartBatcher(j);
    const limits = journalLimits(config);
    const watches = new WatchCounter(limits.maxWatchesPerClient);
    const runWatches = new RunWatches(nc, config.prefix);
    const workflowService: ServiceImpl<typeof WorkflowService> = {
      startWorkflow: (req, ctx) => startWorkflow(j, starts, req, ctx),
      startWorkflows: (req, ctx) => startWorkflows(j, starts, req, ctx),
      getWorkflow: (req, ctx) => getWorkflow(j, req, ctx),
      listWorkflows: (req, ctx) => listWorkflows(j, req, ctx),
      cancelWorkflow: (req, ctx) => cancelWorkflow(j, req, ctx),
      sendEvent: (req, ctx) => sendEvent(j, req, ctx),
      watchWorkflow: (req, ctx) => watchWorkflow(j, runWatches, req, ctx, watches),
      getHistory: (req, ctx) => getHistory(j, req, ctx),
      resetWorkflow: (req, ctx) => resetWorkflow(j, req, ctx),
      retryFailed: (req, ctx) => retryFailed(j, req, ctx),
    };
    const journalService: ServiceImpl<typeof JournalService> = {
      registerWorker: (req) => registerWorker(j, req),
      claimRuns: (req) => claimRuns(j, req),
      commitTurns: (req) => commitTurns(j, req),
      recordResultBatch: (req) => recordResultBatch(j, req),
      heartbeatSteps: (req) => heartbeatSteps(j, req),
      leaseShards: (req) => leaseShards(j, req),
      streamClaims: (reqs, ctx) => streamClaims(j, reqs, ctx),
      readJournals: (req) => readJournals(j, req),
    };
    const operatorService: ServiceImpl<typeof OperatorService> = {
      diagnose: (req) => diagnose(j, jsm, req),
    };
    cleanup.push({ name: "task publishes", run: () => j.publisher.settle() });
    const server = await startServer({
      host: config.host,
      port: config.port,
      services: [WorkflowService.typeName, JournalService.typeName, OperatorService.typeName],
      readMaxBytes: limits.maxRequestBytes,
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      // Every call is a SERVER span continuing the caller's trace, counted and timed, then
      // authenticated and authorized (so refusals are traced and counted too).
      interceptors: [
        serverTraceInterceptor,
        rpcMetricsInterceptor(metrics),
        authInterceptor(config.auth ?? { mode: "off" }),
      ],
      fallback: metricsHandler(metrics.registry),
      cors: { origins: config.corsOrigins ?? [], headers: ["authorization"] },
      routes: (router) => {
        router.service(WorkflowService, workflowService);
        router.service(JournalService, journalService);
        router.service(OperatorService, operatorService);
      },
    });
    cleanup.push({ name: "server", run: () => server.close() });

    if (streamCreated) await republishDispatched(j, logger);
    const sweeper = new Sweeper(j, logger);
    timers = new Timers(j, logger);
    sweeper.start();
    cleanup.push({ name: "sweeper", run: () => sweeper.stop() });
    timers.start();
    const t = timers;
    cleanup.push({ name: "timers", run: () => t.stop() });
    const retention = new Retention(j, config.retention ?? defaultRetention, logger);
    retention.start();
    cleanup.push({ name: "retention", run: () => retention.stop() });

    server.health.setServing(true);
    cleanup.push({ name: "health", run: () => server.health.setServing(false) });
    return { port: server.port, metrics, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
