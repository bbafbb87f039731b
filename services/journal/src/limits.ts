// The journal's per-run limits (docs/limits.md): what happens when a run reaches one, and the
// errors that name the setting to raise.
import { Code, ConnectError } from "@connectrpc/connect";
import type { StoredFailure } from "./db.ts";

/** The failure a run ends with when a turn journals a step past WEFT_MAX_STEPS_PER_RUN. */
export function stepLimitFailure(seq: number, maxStepsPerRun: number): StoredFailure {
  return {
    name: "LimitExceededError",
    message: `the workflow called its step ${seq}, over the limit of ${maxStepsPerRun} steps per run (WEFT_MAX_STEPS_PER_RUN)`,
  };
}

/** The first new step of a turn whose seq passes the limit, if any. */
export function stepOverLimit(newSteps: readonly { seq: number }[], maxStepsPerRun: number): number | undefined {
  let over: number | undefined;
  for (const step of newSteps)
    if (step.seq > maxStepsPerRun && (over === undefined || step.seq < over)) over = step.seq;
  return over;
}

export function eventLimitError(runId: string, events: number, maxEventsPerRun: number): ConnectError {
  return new ConnectError(
    `run_id: run ${runId} already holds ${events} events, the limit per run (WEFT_MAX_EVENTS_PER_RUN=${maxEventsPerRun})`,
    Code.ResourceExhausted,
  );
}
