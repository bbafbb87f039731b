// Retention: a background loop that deletes finished runs (completed, failed, canceled) older than
// the configured age, with their steps and events, in small batches with a pause between them.
// Only one journal replica works at a time (advisory lock); rows the hot path holds are skipped.
import type { Logger } from "@weft/runtime";
import type { Db } from "./db.ts";
import { BackgroundLoop } from "./loop.ts";
import type { JournalMetrics } from "./metrics.ts";
import { type DeletedCounts, deleteFinishedRuns, withRetentionTurn } from "./store/retention.ts";

export interface RetentionSettings {
  /** Finished runs older than this are deleted; 0 disables retention. */
  ageMs: number;
  /** Runs per delete (one short transaction each). */
  batch: number;
  /** Least pause between two full batches (the pause is at least the last batch's duration). */
  pauseMs: number;
  /** Sleep after a pass that found less than a full batch (or another replica holding the turn). */
  intervalMs: number;
}

export interface RetentionDeps {
  db: Db;
  metrics: JournalMetrics;
}

export class Retention {
  private readonly loop: BackgroundLoop;
  private readonly settings: RetentionSettings;

  constructor(j: RetentionDeps, settings: RetentionSettings, logger: Logger) {
    this.settings = settings;
    this.loop = new BackgroundLoop(
      "retention",
      async () => {
        const started = performance.now();
        const deleted = await this.deleteBatch(j);
        if (deleted && deleted.runs > 0) logger.debug({ ...deleted }, "retention deleted finished runs");
        if (!deleted || deleted.runs < settings.batch) return { nextInMs: settings.intervalMs };
        // Pause at least as long as the batch took: on a busy database (slow batches) retention
        // backs off by itself and keeps at most half of one connection's time.
        return { nextInMs: Math.max(settings.pauseMs, Math.round(performance.now() - started)) };
      },
      logger,
      settings.intervalMs,
    );
  }

  get enabled(): boolean {
    return this.settings.ageMs > 0;
  }

  start(): void {
    if (this.enabled) this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One batch; undefined when another replica holds the retention turn. */
  private async deleteBatch(j: RetentionDeps): Promise<DeletedCounts | undefined> {
    const stop = j.metrics.transactionSeconds.startTimer({ name: "retention" });
    try {
      const deleted = await withRetentionTurn(j.db, (trx) =>
        deleteFinishedRuns(trx, this.settings.ageMs, this.settings.batch),
      );
      if (deleted) {
        j.metrics.retentionDeleted.inc({ table: "runs" }, deleted.runs);
        j.metrics.retentionDeleted.inc({ table: "steps" }, deleted.steps);
        j.metrics.retentionDeleted.inc({ table: "events" }, deleted.events);
        j.metrics.retentionBatches.inc({ outcome: deleted.runs > 0 ? "deleted" : "empty" });
      } else {
        j.metrics.retentionBatches.inc({ outcome: "skipped" });
      }
      return deleted;
    } finally {
      stop();
    }
  }
}
