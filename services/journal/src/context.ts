// What every RPC handler and loop of the journal shares.
import type { Attributes } from "@opentelemetry/api";
import type { Logger } from "@weft/runtime";
import type { ClaimHub } from "./claims.ts";
import type { JournalConfig } from "./config.ts";
import type { Db } from "./db.ts";
import type { JournalMetrics } from "./metrics.ts";
import type { Notifier } from "./notifier.ts";
import type { TaskPublisher } from "./task-publisher.ts";

export interface JournalContext {
  db: Db;
  config: JournalConfig;
  logger: Logger;
  notifier: Notifier;
  publisher: TaskPublisher;
  metrics: JournalMetrics;
  /** Coordinators' claim streams (push claims). */
  claims: ClaimHub;
  /** Attributes of the journal's database spans (system, namespace, server). */
  dbAttributes: Attributes;
  /** Tells the timer loop that a timer may now be due earlier than it planned for. */
  rearmTimers(due: Date): void;
}
