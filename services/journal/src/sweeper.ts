// Sweeper: republishes (dispatch + 1) every running task step whose task has produced neither a
// result nor a heartbeat within the dispatch timeout, so that a lost publish or a lost message
// never leaves a step without a live task. `republishDispatched` does the same at once for every
// task dispatched so far, after the task stream was lost (task-stream.ts).
import type { Logger } from "@weft/runtime";
import { sql } from "kysely";
import type { JournalContext } from "./context.ts";
import { BackgroundLoop } from "./loop.ts";
import { redispatchStale, type StepWithWorkflow } from "./store/steps.ts";

const BATCH = 500;

async function republish(j: JournalContext, steps: StepWithWorkflow[]): Promise<void> {
  await j.publisher.publish(
    steps.map((step) => ({ step, workflowName: step.workflow_name })),
    "republished",
  );
  j.notifier.runsChanged(steps.map((s) => s.run_id));
}

/**
 * Republishes (dispatch + 1) every task dispatched before now that has no outcome, in batches:
 * their messages may have been lost with the stream. A task an executor is running meanwhile runs
 * again (at least once, as after any redelivery); its first outcome is the one recorded.
 */
export async function republishDispatched(j: JournalContext, logger: Logger): Promise<number> {
  // The cutoff is Postgres's clock, the one dispatched_at is written with (to the microsecond).
  const { rows } = await sql<{ now: string }>`SELECT now()::text AS now`.execute(j.db);
  const before = rows[0]?.now;
  if (before === undefined) throw new Error("SELECT now() returned no row");
  let total = 0;
  for (;;) {
    const steps = await redispatchStale(j.db, { before }, BATCH);
    if (steps.length > 0) await republish(j, steps);
    total += steps.length;
    if (steps.length < BATCH) break;
  }
  logger.info({ steps: total }, "republished the dispatched tasks");
  return total;
}

export class Sweeper {
  private readonly loop: BackgroundLoop;

  constructor(j: JournalContext, logger: Logger) {
    const idleMs = Math.min(Math.max(Math.floor(j.config.dispatchTimeoutMs / 4), 50), 5000);
    this.loop = new BackgroundLoop(
      "sweeper",
      async () => {
        const steps = await redispatchStale(j.db, { timeoutMs: j.config.dispatchTimeoutMs }, BATCH);
        if (steps.length > 0) {
          logger.info({ steps: steps.length }, "republishing tasks past their dispatch timeout");
          await republish(j, steps);
        }
        return { nextInMs: steps.length === BATCH ? 0 : idleMs };
      },
      logger,
    );
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
