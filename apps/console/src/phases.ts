// A step's life as phases on a time axis, from what the journal records today:
//   queued     created_at → started_at   (task published, waiting for an executor; includes earlier
//                                          failed attempts and their backoff when attempt > 1)
//   executing  started_at → completed_at (the attempt that produced the outcome, executor clock)
//   settling   completed_at → the next commit of the run (the next step's created_at, or the run's
//              completed_at): waiting in the executor's result buffer, the RecordResultBatch call,
//              the run's wake-up, claim and replay, and the CommitTurns. Splitting it into
//              "result buffer" and "commit" needs a recorded_at on Step (see README).
//   waiting    timers, events and child runs: created_at → completed_at (or now).
import { isTaskKind, ms, type Run, RunStatus, type Step, StepStatus } from "./api.ts";

export type PhaseKind = "queued" | "executing" | "settling" | "waiting";

export interface Phase {
  kind: PhaseKind;
  start: number;
  end: number;
  /** True when the phase has not ended yet (drawn up to "now"). */
  open: boolean;
}

export interface StepPhases {
  step: Step;
  phases: Phase[];
  start: number;
  end: number;
}

export function stepPhases(run: Run, steps: readonly Step[], now: number): StepPhases[] {
  const runEnd = ms(run.completedAt);
  const created = steps.map((s) => ms(s.createdAt) ?? 0).sort((a, b) => a - b);
  const nextCommitAfter = (t: number): number | undefined => {
    // first step created at or after t (binary search), else the run's end
    let lo = 0;
    let hi = created.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (created[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo < created.length ? created[lo] : runEnd;
  };
  const out: StepPhases[] = [];
  for (const step of steps) {
    const c = ms(step.createdAt);
    if (c === undefined) continue;
    const s = ms(step.startedAt);
    const done = ms(step.completedAt);
    const phases: Phase[] = [];
    const finished = step.status !== StepStatus.RUNNING;
    const stopAt = done ?? (finished ? (runEnd ?? now) : now);
    if (isTaskKind(step.kind)) {
      if (s !== undefined && done !== undefined) {
        phases.push({ kind: "queued", start: c, end: Math.max(c, s), open: false });
        phases.push({ kind: "executing", start: Math.max(c, s), end: Math.max(c, done), open: false });
      } else {
        // Running (or canceled) and not recorded yet: the journal cannot tell queued from executing.
        phases.push({ kind: "queued", start: c, end: Math.max(c, stopAt), open: !finished });
      }
      if (done !== undefined && step.status === StepStatus.COMPLETED) {
        const next = nextCommitAfter(done);
        const open = next === undefined && run.status === RunStatus.RUNNING;
        const end = next ?? (open ? now : done);
        if (end > done) phases.push({ kind: "settling", start: done, end, open });
      }
    } else {
      phases.push({ kind: "waiting", start: c, end: Math.max(c, stopAt), open: !finished });
    }
    const last = phases[phases.length - 1]!;
    out.push({ step, phases, start: c, end: last.end });
  }
  return out;
}
