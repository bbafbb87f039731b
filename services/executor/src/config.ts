// The executor's configuration: the shared settings plus its own, parsed once from the environment.
import { hostname } from "node:os";
import { commonEnv, envInt, type NatsAuth, natsAuthFrom, parseEnv, serviceTokenFrom } from "@weft/runtime";
import { z } from "zod";

const MiB = 1024 * 1024;

export const executorEnv = {
  ...commonEnv,
  WEFT_APP: z.string().min(1, "path of the app module (its default export is defineApp(...))"),
  WEFT_EXECUTOR_PORT: envInt(0, 65_535, 7235),
  WEFT_EXECUTOR_ID: z.string().min(1).max(200).optional(),
  WEFT_EXECUTOR_CONCURRENCY: envInt(1, 100_000, 1024),
  WEFT_FETCH_BATCH: envInt(1, 10_000, 256),
  WEFT_FLUSH_MAX_RESULTS: envInt(1, 10_000, 500),
  WEFT_FLUSH_MAX_BYTES: envInt(1024, 64 * MiB, 4 * MiB),
  WEFT_SHARD_LEASE_MS: envInt(1_000, 600_000, 10_000),
  WEFT_MAX_INFLIGHT_BYTES: envInt(1024, 16 * 1024 * MiB, 256 * MiB),
  WEFT_MAX_HEAP_MB: envInt(64, 1024 * 1024, 1024),
  WEFT_DRAIN_TIMEOUT_MS: envInt(0, 600_000, 20_000),
  WEFT_QUEUE_LAG_INTERVAL_MS: envInt(100, 600_000, 5_000),
};

/** Everything `startExecutor` needs; tests build it with `executorConfig(overrides)`. */
export interface ExecutorConfig {
  executorId: string;
  natsUrl: string;
  journalUrl: string;
  prefix: string;
  /** Health port; 0 picks a free one. */
  port: number;
  concurrency: number;
  fetchBatch: number;
  flushMaxResults: number;
  flushMaxBytes: number;
  /** Most RecordResultBatch calls in flight at once. */
  flushMaxCalls: number;
  shardLeaseMs: number;
  maxInflightBytes: number;
  maxHeapBytes: number;
  drainTimeoutMs: number;
  /** How long one pull request waits for messages (JetStream minimum 1 s). Bounds how long a stop waits for fetches. */
  fetchExpiresMs: number;
  /** Held tasks older than this get `working()` and a step heartbeat on each keep-alive sweep. */
  keepAliveMs: number;
  /** How often the backlog of each owned shard is read for the queue-lag metrics. */
  queueLagIntervalMs: number;
  /** Sent to the journal (its internal API needs the service token when auth is required). */
  serviceToken?: string;
  /** The executor's NATS user. */
  natsAuth?: NatsAuth;
}

export function defaultExecutorId(): string {
  return `${hostname()}-${process.pid}`;
}

export function executorConfig(overrides: Partial<ExecutorConfig> = {}): ExecutorConfig {
  return {
    executorId: defaultExecutorId(),
    natsUrl: "nats://127.0.0.1:4222",
    journalUrl: "http://127.0.0.1:7233",
    prefix: "weft",
    port: 7235,
    concurrency: 1024,
    fetchBatch: 256,
    flushMaxResults: 500,
    flushMaxBytes: 4 * MiB,
    flushMaxCalls: 2,
    shardLeaseMs: 10_000,
    maxInflightBytes: 256 * MiB,
    maxHeapBytes: 1024 * MiB,
    drainTimeoutMs: 20_000,
    fetchExpiresMs: 3_000,
    keepAliveMs: 10_000,
    queueLagIntervalMs: 5_000,
    ...overrides,
  };
}

/** Reads the environment; a bad value throws ConfigError naming the variable. */
export function executorConfigFromEnv(env: Record<string, string | undefined> = process.env): {
  config: ExecutorConfig;
  appPath: string;
  logLevel: string;
} {
  const e = parseEnv(executorEnv, env);
  const config = executorConfig({
    executorId: e.WEFT_EXECUTOR_ID ?? defaultExecutorId(),
    natsUrl: e.WEFT_NATS_URL,
    journalUrl: e.WEFT_JOURNAL_URL,
    prefix: e.WEFT_PREFIX,
    port: e.WEFT_EXECUTOR_PORT,
    concurrency: e.WEFT_EXECUTOR_CONCURRENCY,
    fetchBatch: e.WEFT_FETCH_BATCH,
    flushMaxResults: e.WEFT_FLUSH_MAX_RESULTS,
    flushMaxBytes: e.WEFT_FLUSH_MAX_BYTES,
    shardLeaseMs: e.WEFT_SHARD_LEASE_MS,
    maxInflightBytes: e.WEFT_MAX_INFLIGHT_BYTES,
    maxHeapBytes: e.WEFT_MAX_HEAP_MB * MiB,
    drainTimeoutMs: e.WEFT_DRAIN_TIMEOUT_MS,
    queueLagIntervalMs: e.WEFT_QUEUE_LAG_INTERVAL_MS,
    serviceToken: serviceTokenFrom(e),
    natsAuth: natsAuthFrom(e),
  });
  return { config, appPath: e.WEFT_APP, logLevel: e.WEFT_LOG_LEVEL };
}
