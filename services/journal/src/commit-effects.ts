// What follows a committed transaction: publish tasks, wake coordinators, notify watchers, re-arm
// timers. Postgres already holds the truth; each effect only makes the system react sooner, so
// none holds up the RPC's answer (task publishes complete in the background).
import type { JournalContext } from "./context.ts";
import type { TaskToPublish } from "./task-publisher.ts";

export interface CommitEffects {
  tasks: TaskToPublish[];
  /** Some run became ready (or a new run was created). */
  wake: boolean;
  changedRuns: Iterable<string>;
  /** Runs that reached a final status (name them in `changedRuns` too). */
  endedRuns?: Iterable<string>;
  earliestTimer?: Date | null;
}

export function applyCommitEffects(j: JournalContext, effects: CommitEffects): void {
  if (effects.wake) j.notifier.wake();
  j.notifier.runsChanged(effects.changedRuns);
  if (effects.endedRuns) j.notifier.runsEnded(effects.endedRuns);
  if (effects.earliestTimer) j.rearmTimers(effects.earliestTimer);
  j.publisher.dispatch(effects.tasks);
}
