// Timers: completes due SLEEP steps and fails EVENT waits past their timeout, marking their runs
// ready. Sleeps until the earliest due time (capped by a safety poll) and is re-armed in-process
// when a commit journals an earlier timer.
import type { Logger } from "@weft/runtime";
import type { JournalContext } from "./context.ts";
import { BackgroundLoop } from "./loop.ts";
import { markReady } from "./store/runs.ts";
import { failTimedOutEvents, fireDueSleeps, lockRunsWithDueTimers, nextTimerDue } from "./store/steps.ts";
import { inDatabaseSpan } from "./telemetry.ts";

const BATCH = 1000;
const SAFETY_POLL_MS = 1000;

export class Timers {
  private readonly loop: BackgroundLoop;

  constructor(j: JournalContext, logger: Logger) {
    this.loop = new BackgroundLoop(
      "timers",
      async () => {
        const { locked, fired, ready, slept, timedOut } = await inDatabaseSpan(j, "timers", () =>
          j.db.transaction().execute(async (trx) => {
            const locked = await lockRunsWithDueTimers(trx, BATCH);
            const slept = await fireDueSleeps(trx, locked);
            const timedOut = await failTimedOutEvents(trx, locked);
            const fired = [...slept, ...timedOut];
            return {
              locked,
              fired,
              ready: await markReady(trx, fired),
              slept: slept.length,
              timedOut: timedOut.length,
            };
          }),
        );
        j.metrics.timersFired.inc({ kind: "sleep" }, slept);
        j.metrics.timersFired.inc({ kind: "event_timeout" }, timedOut);
        if (fired.length > 0) {
          if (ready.length > 0) j.notifier.wake();
          j.notifier.runsChanged(fired);
        }
        if (locked.length >= BATCH) return { nextInMs: 0 };
        const due = await nextTimerDue(j.db);
        const untilDue = due ? due.getTime() - Date.now() : SAFETY_POLL_MS;
        // A due timer that did not fire belongs to a run another transaction holds: retry soon, not at once.
        const floor = fired.length === 0 ? 20 : 0;
        return { nextInMs: Math.min(Math.max(untilDue, floor), SAFETY_POLL_MS) };
      },
      logger,
    );
  }

  start(): void {
    this.loop.start();
  }

  /** A timer due at `due` was journaled. */
  rearm(due: Date): void {
    this.loop.pokeIn(due.getTime() - Date.now());
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
