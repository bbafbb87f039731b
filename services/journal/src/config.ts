// The journal's configuration: the shared Weft settings plus its own, parsed once from the environment.
import { commonEnv, envInt, parseEnv } from "@weft/runtime";
import { z } from "zod";

export const journalEnv = {
  ...commonEnv,
  WEFT_JOURNAL_PORT: envInt(0, 65535, 7233),
  WEFT_JOURNAL_HOST: z.string().default("0.0.0.0"),
  WEFT_SHARDS: envInt(1, 4096, 16),
  WEFT_MAX_PAYLOAD_BYTES: envInt(1, 64 * 1024 * 1024, 1024 * 1024),
  WEFT_DISPATCH_TIMEOUT_MS: envInt(100, 24 * 3600 * 1000, 60_000),
  WEFT_PAGE_SIZE_MAX: envInt(1, 100_000, 1000),
  WEFT_DB_POOL_SIZE: envInt(1, 1000, 10),
  WEFT_TASK_ACK_WAIT_MS: envInt(1_000, 3_600_000, 30_000),
  WEFT_STREAM_REPLICAS: envInt(1, 5, 1),
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
  /** JetStream ack_wait of the shard consumers: an unacked task is redelivered after it. */
  taskAckWaitMs?: number;
  /** Replicas of the task stream (3 on a JetStream cluster). */
  streamReplicas?: number;
  /** Origins allowed to call from browsers (Connect-Web); "*" for any. */
  corsOrigins?: string[];
}

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
    taskAckWaitMs: e.WEFT_TASK_ACK_WAIT_MS,
    streamReplicas: e.WEFT_STREAM_REPLICAS,
    corsOrigins: e.WEFT_CORS_ORIGINS,
  };
}
