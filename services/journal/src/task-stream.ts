// The JetStream stream of step tasks and its per-shard durable pull consumers, created idempotently,
// and the guard that re-creates them when NATS lost them.
//
// The stream is memory-backed by default (WEFT_TASK_STORAGE): Postgres holds every task (a running
// step with its dispatch number), so a message is only the signal that brings it to an executor.
// A NATS server that restarts loses a memory stream; the guard notices (a publish answered "no
// responders", or the client reconnected), re-creates the stream and its consumers, and the
// journal that re-created it republishes every dispatched task without an outcome (dispatch + 1),
// so the loss costs a round of redeliveries, not the dispatch timeout.
import { AckPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { type Logger, shardConsumer, taskStream, taskSubject } from "@weft/runtime";

export type TaskStorage = "memory" | "file";

export interface TaskStreamOptions {
  ackWaitMs?: number;
  replicas?: number;
  /** Where JetStream keeps the stream's messages; default memory. Fixed once the stream exists. */
  storage?: TaskStorage;
}

export interface EnsuredStream {
  /** This call created the stream (it did not exist). */
  created: boolean;
  /** The stream's creation time as the server reports it: a different one means it was re-created. */
  createdAt: string;
  storage: TaskStorage;
}

export async function ensureTaskStream(
  jsm: JetStreamManager,
  prefix: string,
  shards: number,
  options: TaskStreamOptions = {},
): Promise<EnsuredStream> {
  const name = taskStream(prefix);
  const config = {
    name,
    subjects: [`${prefix}.tasks.*`],
    storage: options.storage === "file" ? StorageType.File : StorageType.Memory,
    num_replicas: options.replicas ?? 1,
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(120_000),
  };
  let created = false;
  let info: Awaited<ReturnType<JetStreamManager["streams"]["info"]>>;
  try {
    // An existing stream (made by another journal replica) is left as it is.
    info = await jsm.streams.info(name);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    try {
      info = await jsm.streams.add(config);
      created = true;
    } catch (addErr) {
      if (!/already in use|already exists/i.test((addErr as Error).message)) throw addErr;
      info = await jsm.streams.info(name);
    }
  }
  const existing = new Set<string>();
  for await (const consumer of jsm.consumers.list(name)) existing.add(consumer.name);
  await Promise.all(
    Array.from({ length: shards }, (_, shard) => {
      const durable = shardConsumer(prefix, shard);
      if (existing.has(durable)) return undefined;
      return jsm.consumers
        .add(name, {
          durable_name: durable,
          filter_subject: taskSubject(prefix, shard),
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(options.ackWaitMs ?? 30_000),
          max_deliver: -1,
          max_ack_pending: 20_000,
        })
        .catch((err: Error) => {
          // An executor may have created it at the same moment.
          if (!/already in use|already exists/i.test(err.message)) throw err;
        });
    }),
  );
  return {
    created,
    createdAt: info.created,
    storage: info.config.storage === StorageType.File ? "file" : "memory",
  };
}

export interface TaskStreamGuardOptions extends TaskStreamOptions {
  jsm: JetStreamManager;
  prefix: string;
  shards: number;
  logger: Logger;
  /** Called after this guard re-created a lost stream: republish every dispatched task. */
  onRecreated(): Promise<void>;
}

/**
 * Keeps the task stream in place. `check()` (on a failed publish or a reconnect) looks the stream
 * up and re-creates it and its consumers if it is gone; one check runs at a time, and a request
 * during a check runs one more after it.
 */
export class TaskStreamGuard {
  private readonly options: TaskStreamGuardOptions;
  private createdAt: string | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private stopped = false;
  /** Stream re-creations this guard made (for tests and logs). */
  recreated = 0;

  constructor(options: TaskStreamGuardOptions) {
    this.options = options;
  }

  /** Makes sure the stream exists; returns what ensureTaskStream found. */
  async ensure(): Promise<EnsuredStream> {
    const { jsm, prefix, shards, logger } = this.options;
    const ensured = await ensureTaskStream(jsm, prefix, shards, this.options);
    const wanted = this.options.storage ?? "memory";
    if (!ensured.created && ensured.storage !== wanted && this.createdAt === undefined) {
      logger.warn(
        { stream: taskStream(prefix), storage: ensured.storage, wanted },
        "the task stream exists with another storage type (JetStream cannot change it); delete it to switch",
      );
    }
    this.createdAt = ensured.createdAt;
    return ensured;
  }

  /** Asks for a check; resolves when it (or the one it joined) is done. Never rejects. */
  check(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.pending = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.pending && !this.stopped) {
        this.pending = false;
        void this.check();
      }
    });
    return this.running;
  }

  /** Checks after every reconnect of `nc` until the connection closes or stop(). */
  watch(nc: NatsConnection): void {
    void (async () => {
      for await (const status of nc.status()) {
        if (this.stopped) break;
        if (status.type === "reconnect") void this.check();
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async run(): Promise<void> {
    const { prefix, logger } = this.options;
    try {
      const before = this.createdAt;
      const ensured = await this.ensure();
      if (!ensured.created) {
        if (before !== undefined && ensured.createdAt !== before) {
          logger.warn({ stream: taskStream(prefix) }, "the task stream was re-created elsewhere");
        }
        return;
      }
      this.recreated++;
      logger.warn(
        { stream: taskStream(prefix), storage: ensured.storage },
        "the task stream was lost (NATS restarted?): re-created it; republishing dispatched tasks",
      );
      await this.options.onRecreated();
    } catch (err) {
      logger.warn({ err, stream: taskStream(prefix) }, "checking the task stream failed; the next failure retries");
    }
  }
}

/** How long a starting journal waits for JetStream (untilJetStreamReady). */
export const JETSTREAM_STARTUP_WAIT_MS = 60_000;

/**
 * Start-up against a JetStream that cannot answer yet: a cluster without a meta leader (its
 * requests time out), or one that does not know every peer a replicated stream needs ("no
 * suitable peers for placement"). Tries `fn` again with backoff (0.2 s doubling to 2 s) for up to
 * `waitMs`, warning on the first failure and every tenth, then throws the last error.
 */
export async function untilJetStreamReady<T>(
  what: string,
  fn: () => Promise<T>,
  logger: Logger,
  waitMs = JETSTREAM_STARTUP_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn({ err: (err as Error).message, attempt }, `${what}: JetStream is not ready; trying again`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }
}
