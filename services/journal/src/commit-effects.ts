// What follows a committed transaction: publish tasks, wake coordinators, notify watchers, re-arm
// timers. Postgres already holds the truth; each effect only makes the system react sooner.
import type { JournalContext } from "./context.ts";
import type { TaskToPublish } from "./task-publisher.ts";

export interface CommitEffects {
  tasks: TaskToPublish[];
  /** Some run became ready (or a new run was created). */
  wake: boolean;
  changedRuns: Iterable<string>;
  earliestTimer?: Date | null;
}

export async function applyCommitEffects(j: JournalContext, effects: CommitEffects): Promise<void> {
  if (effects.wake) j.notifier.wake();
  j.notifier.runsChanged(effects.changedRuns);
  if (effects.earliestTimer) j.rearmTimers(effects.earliestTimer);
  await j.publisher.publish(effects.tasks);
}
