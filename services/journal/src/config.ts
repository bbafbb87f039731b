// The journal's configuration: the shared Weft settings plus its own, parsed once from the environment.
import {
  type AuthPolicy,
  authEnv,
  authPolicyFrom,
  commonEnv,
  envBool,
  envInt,
  type NatsAuth,
  natsAuthFrom,
  parseEnv,
} from "@weft/runtime";
import { z } from "zod";
import type { ClaimOrder } from "./claims.ts";
import type { RetentionSettings } from "./retention.ts";
import type { TaskStorage } from "./task-stream.ts";

export const journalEnv = {
  ...commonEnv,
  ...authEnv,
  WEFT_JOURNAL_PORT: envInt(0, 65535, 7233),
  WEFT_JOURNAL_HOST: z.string().default("0.0.0.0"),
  WEFT_SHARDS: envInt(1, 4096, 16),
  WEFT_MAX_PAYLOAD_BYTES: envInt(1, 64 * 1024 * 1024, 1024 * 1024),
  WEFT_DISPATCH_TIMEOUT_MS: envInt(100, 24 * 3600 * 1000, 60_000),
  WEFT_PAGE_SIZE_MAX: envInt(1, 100_000, 1000),
  WEFT_DB_POOL_SIZE: envInt(1, 1000, 10),
  // Named prepared statements (parsed and planned once per connection); off behind a pooler in
  // transaction mode that does not track them (PgBouncer before 1.21).
  WEFT_DB_PREPARED_STATEMENTS: envBool(true),
  // A batch transaction's BEGIN and its run locks go out with the statement after them (pg
  // pipeline mode); off behind a pooler that cannot pipeline.
  WEFT_DB_PIPELINE: envBool(true),
  // eager: push whenever there is credit; fair: once a coordinator's stream is out of credit, runs
  // made ready later wait behind those left for its ClaimRuns (oldest first, none starves).
  WEFT_CLAIM_ORDER: z.enum(["eager", "fair"]).default("eager"),
  WEFT_TASK_ACK_WAIT_MS: envInt(1_000, 3_600_000, 30_000),
  WEFT_STREAM_REPLICAS: envInt(1, 5, 1),
  // memory: tasks are journaled in Postgres, the stream only signals them; a stream lost with a
  // NATS restart is re-created and its tasks republished. file: JetStream keeps them on disk too.
  WEFT_TASK_STORAGE: z.enum(["memory", "file"]).default("memory"),
  // Limits (docs/limits.md): each one answers with a Connect error naming its variable.
  // Unset: max(64 MiB, 4 × WEFT_MAX_PAYLOAD_BYTES).
  WEFT_MAX_REQUEST_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .optional(),
  WEFT_MAX_STEPS_PER_RUN: envInt(1, 10_000_000, 50_000),
  WEFT_MAX_EVENTS_PER_RUN: envInt(1, 10_000_000, 10_000),
  WEFT_HISTORY_PAGE_MAX: envInt(1, 10_000_000, 50_000),
  WEFT_MAX_WATCHES_PER_CLIENT: envInt(1, 1_000_000, 100),
  WEFT_MAX_STREAMS_PER_CONNECTION: envInt(1, 2 ** 31 - 1, 1000),
  WEFT_RETENTION_AGE_S: envInt(0, 100 * 365 * 24 * 3600, 7 * 24 * 3600),
  WEFT_RETENTION_BATCH: envInt(1, 100_000, 1000),
  WEFT_RETENTION_PAUSE_MS: envInt(0, 3_600_000, 50),
  WEFT_RETENTION_INTERVAL_MS: envInt(100, 24 * 3_600_000, 60_000),
  WEFT_DIAGNOSE_UNCLAIMED_MS: envInt(1, 24 * 3_600_000, 30_000),
  /** false: the journal runs as a least-privilege role and only checks that the migrate job ran. */
  WEFT_MIGRATE_ON_START: envBool(true),
  WEFT_COORDINATOR_TTL_MS: envInt(1_000, 3_600_000, 30_000),
};

export const defaultRetention: RetentionSettings = {
  ageMs: 7 * 24 * 3600 * 1000,
  batch: 1000,
  pauseMs: 50,
  intervalMs: 60_000,
};

export interface JournalConfig {
  databaseUrl: string;
  natsUrl: string;
  prefix: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  shards: number;
  maxPayloadBytes: number;
  dispatchTimeoutMs: number;
  pageSizeMax: number;
  dbPoolSize: number;
  /** Named prepared statements on the journal's connections (WEFT_DB_PREPARED_STATEMENTS). */
  dbPreparedStatements?: boolean;
  /** Pipelined BEGIN and lock statements in transactions (WEFT_DB_PIPELINE). */
  dbPipeline?: boolean;
  /** JetStream ack_wait of the shard consumers: an unacked task is redelivered after it. */
  taskAckWaitMs?: number;
  /** How pushed claims order against runs waiting for ClaimRuns (WEFT_CLAIM_ORDER; default eager). */
  claimOrder?: ClaimOrder;
  /** Replicas of the task stream (3 on a JetStream cluster). */
  streamReplicas?: number;
  /** Storage of the task stream when the journal creates it (WEFT_TASK_STORAGE; default memory). */
  taskStorage?: TaskStorage;
  /** Retention of finished runs (see retention.ts); ageMs 0 disables it. Defaults: 7 days, 1000, 50 ms, 60 s. */
  retention?: RetentionSettings;
  /** Diagnose reports ready runs unclaimed for longer than this (default 30 s). */
  diagnoseUnclaimedMs?: number;
  /** Origins allowed to call from browsers (Connect-Web); "*" for any. */
  corsOrigins?: string[];
  /** Largest request message (Connect readMaxBytes); default max(64 MiB, 4 × maxPayloadBytes). */
  maxRequestBytes?: number;
  /** A turn that journals a step past this seq fails its run (LimitExceededError). Default 50,000. */
  maxStepsPerRun?: number;
  /** SendEvent to a run holding this many events is refused (ResourceExhausted). Default 10,000. */
  maxEventsPerRun?: number;
  /** Largest GetHistory page (steps and events each); page_size 0 means this. Default 50,000. */
  historyPageMax?: number;
  /** Open WatchWorkflow streams per client address. Default 100. */
  maxWatchesPerClient?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. Default 1000. */
  maxStreamsPerConnection?: number;
  /**
   * Who may call what. From the environment it is always set (required unless WEFT_AUTH=off);
   * absent, for in-process tests only, every call is allowed.
   */
  auth?: AuthPolicy;
  /** The journal's NATS user. */
  natsAuth?: NatsAuth;
  /** Apply pending migrations at start (default); false: only check that they were applied. */
  migrateOnStart?: boolean;
  /** A coordinator's app version counts as carried this long after its last RegisterWorker. */
  coordinatorTtlMs?: number;
}

/** The limits with their defaults applied. */
export function journalLimits(config: JournalConfig) {
  return {
    maxRequestBytes: config.maxRequestBytes ?? Math.max(64 * 1024 * 1024, config.maxPayloadBytes * 4),
    maxStepsPerRun: config.maxStepsPerRun ?? 50_000,
    maxEventsPerRun: config.maxEventsPerRun ?? 10_000,
    historyPageMax: config.historyPageMax ?? 50_000,
    maxWatchesPerClient: config.maxWatchesPerClient ?? 100,
    maxStreamsPerConnection: config.maxStreamsPerConnection ?? 1000,
  };
}

export const DEFAULT_COORDINATOR_TTL_MS = 30_000;

export function journalConfigFromEnv(env: Record<string, string | undefined> = process.env): JournalConfig {
  const e = parseEnv(journalEnv, env);
  return {
    databaseUrl: e.WEFT_DATABASE_URL,
    natsUrl: e.WEFT_NATS_URL,
    prefix: e.WEFT_PREFIX,
    host: e.WEFT_JOURNAL_HOST,
    port: e.WEFT_JOURNAL_PORT,
    shards: e.WEFT_SHARDS,
    maxPayloadBytes: e.WEFT_MAX_PAYLOAD_BYTES,
    dispatchTimeoutMs: e.WEFT_DISPATCH_TIMEOUT_MS,
    pageSizeMax: e.WEFT_PAGE_SIZE_MAX,
    dbPoolSize: e.WEFT_DB_POOL_SIZE,
    dbPreparedStatements: e.WEFT_DB_PREPARED_STATEMENTS,
    dbPipeline: e.WEFT_DB_PIPELINE,
    taskAckWaitMs: e.WEFT_TASK_ACK_WAIT_MS,
    claimOrder: e.WEFT_CLAIM_ORDER,
    streamReplicas: e.WEFT_STREAM_REPLICAS,
    taskStorage: e.WEFT_TASK_STORAGE,
    corsOrigins: e.WEFT_CORS_ORIGINS,
    maxRequestBytes: e.WEFT_MAX_REQUEST_BYTES,
    maxStepsPerRun: e.WEFT_MAX_STEPS_PER_RUN,
    maxEventsPerRun: e.WEFT_MAX_EVENTS_PER_RUN,
    historyPageMax: e.WEFT_HISTORY_PAGE_MAX,
    maxWatchesPerClient: e.WEFT_MAX_WATCHES_PER_CLIENT,
    maxStreamsPerConnection: e.WEFT_MAX_STREAMS_PER_CONNECTION,
    retention: {
      ageMs: e.WEFT_RETENTION_AGE_S * 1000,
      batch: e.WEFT_RETENTION_BATCH,
      pauseMs: e.WEFT_RETENTION_PAUSE_MS,
      intervalMs: e.WEFT_RETENTION_INTERVAL_MS,
    },
    diagnoseUnclaimedMs: e.WEFT_DIAGNOSE_UNCLAIMED_MS,
    auth: authPolicyFrom(e),
    natsAuth: natsAuthFrom(e),
    migrateOnStart: e.WEFT_MIGRATE_ON_START,
    coordinatorTtlMs: e.WEFT_COORDINATOR_TTL_MS,
  };
}
