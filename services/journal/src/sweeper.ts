// Sweeper: republishes (dispatch + 1) every running task step whose task has produced neither a
// result nor a heartbeat within the dispatch timeout, so that a lost publish or a lost message
// never leaves a step without a live task.
import type { Logger } from "@weft/runtime";
import type { JournalContext } from "./context.ts";
import { BackgroundLoop } from "./loop.ts";
import { redispatchStale } from "./store/steps.ts";

const BATCH = 500;

export class Sweeper {
  private readonly loop: BackgroundLoop;

  constructor(j: JournalContext, logger: Logger) {
    const idleMs = Math.min(Math.max(Math.floor(j.config.dispatchTimeoutMs / 4), 50), 5000);
    this.loop = new BackgroundLoop(
      "sweeper",
      async () => {
        const steps = await redispatchStale(j.db, j.config.dispatchTimeoutMs, BATCH);
        if (steps.length > 0) {
          logger.info({ steps: steps.length }, "republishing tasks past their dispatch timeout");
          await j.publisher.publish(
            steps.map((step) => ({ step, workflowName: step.workflow_name })),
            "republished",
          );
          j.notifier.runsChanged(steps.map((s) => s.run_id));
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
