// Wires a coordinator: registration with the journal, the wake subscription, the claim loop and
// the health server.
import { StepKind, WorkerRole } from "@weft/contracts";
import {
  bearerInterceptor,
  connectNats,
  createLogger,
  type Logger,
  type NatsConnection,
  natsAuthFrom,
  serviceTokenFrom,
  startServer,
  wakeSubject,
} from "@weft/runtime";
import type { App } from "@weft/sdk";
import { clientTraceInterceptor, metricsHandler } from "@weft/telemetry";
import { ClaimLoop } from "./claim-loop.ts";
import type { CoordinatorConfig } from "./config.ts";
import { createJournalClient, type JournalClient } from "./journal-client.ts";
import { type CoordinatorMetrics, createCoordinatorMetrics } from "./metrics.ts";
import { WakeSignal } from "./wake-signal.ts";

export interface RunningCoordinator {
  readonly port: number;
  readonly loop: ClaimLoop;
  readonly metrics: CoordinatorMetrics;
  stop(): Promise<void>;
}

const stepKinds = { query: StepKind.QUERY, mutation: StepKind.MUTATION, action: StepKind.ACTION } as const;

function registration(config: CoordinatorConfig, app: App, leaving = false) {
  return {
    workerId: config.WEFT_COORDINATOR_ID,
    role: WorkerRole.COORDINATOR,
    appVersion: app.version,
    workflows: [...app.workflows.values()].map((w) => ({ name: w.name, hasOnComplete: Boolean(w.onComplete) })),
    steps: [...app.steps.values()].map((s) => ({ name: s.name, kind: stepKinds[s.kind] })),
    leaving,
  };
}

async function register(journal: JournalClient, config: CoordinatorConfig, app: App, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await journal.registerWorker(registration(config, app));
      return;
    } catch (err) {
      if (attempt % 10 === 1) logger.warn({ err, attempt }, "journal not reachable yet; retrying registration");
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1_000)));
    }
  }
}

export async function startCoordinator(options: {
  config: CoordinatorConfig;
  app: App;
  logger?: Logger;
}): Promise<RunningCoordinator> {
  const { config, app } = options;
  const logger = options.logger ?? createLogger("coordinator", config.WEFT_LOG_LEVEL);
  const journal = createJournalClient(config.WEFT_JOURNAL_URL, [
    clientTraceInterceptor,
    bearerInterceptor(serviceTokenFrom(config)),
  ]);
  const metrics = createCoordinatorMetrics();
  const server = await startServer({
    host: config.WEFT_COORDINATOR_HOST,
    port: config.WEFT_COORDINATOR_PORT,
    services: [],
    routes: () => {},
    fallback: metricsHandler(metrics.registry),
  });
  await register(journal, config, app, logger);

  const wake = new WakeSignal();
  const nc: NatsConnection = await connectNats(
    config.WEFT_NATS_URL,
    config.WEFT_COORDINATOR_ID,
    {},
    natsAuthFrom(config),
  );
  const loop = new ClaimLoop({
    owner: config.WEFT_COORDINATOR_ID,
    journal,
    app,
    logger,
    wake,
    metrics,
    claimBatch: config.WEFT_CLAIM_BATCH,
    leaseMs: config.WEFT_LEASE_MS,
    safetyPollMs: config.WEFT_SAFETY_POLL_MS,
    workers: config.WEFT_MAX_CONCURRENT_TURNS,
    alwaysReplay: config.WEFT_ALWAYS_REPLAY,
    cachedRuns: config.WEFT_CACHED_RUNS,
    streamRotateRuns: config.WEFT_CLAIM_STREAM_ROTATE_RUNS,
  });
  // The journal's wake notice: runs became ready that no claim stream took.
  const subscription = nc.subscribe(wakeSubject(config.WEFT_PREFIX), { callback: () => loop.requestPoll() });
  loop.start();
  // Registration doubles as the heartbeat that keeps this coordinator's app version "carried":
  // the journal gives new runs the newest carried version and counts runs nobody can claim.
  const heartbeat = setInterval(() => {
    journal.registerWorker(registration(config, app)).catch((err: unknown) => {
      logger.warn({ err }, "registration heartbeat failed");
    });
  }, config.WEFT_REGISTER_INTERVAL_MS);
  heartbeat.unref();
  server.health.setServing(true);

  return {
    port: server.port,
    loop,
    metrics,
    stop: async () => {
      server.health.setServing(false);
      clearInterval(heartbeat);
      subscription.unsubscribe();
      await loop.stop();
      // The version is no longer carried by this process (best effort: the TTL covers a crash).
      await journal.registerWorker(registration(config, app, true)).catch((err: unknown) => {
        logger.warn({ err }, "could not deregister from the journal");
      });
      await nc.drain();
      await server.close();
    },
  };
}
