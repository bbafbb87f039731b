// One coordinator turn replayed from scratch: a fresh WorkflowExecution fed the whole journal.
import type { App } from "../app.ts";
import { NonDeterminismError, toFailure } from "../errors.ts";
import { WorkflowExecution } from "./execution.ts";
import type { TurnInput, TurnOutcome } from "./journal.ts";

export async function replayTurn(app: App, input: TurnInput): Promise<TurnOutcome> {
  const outcome = await new WorkflowExecution(app, input.run).apply(input.steps);
  if (!input.alwaysReplay) return outcome;
  const again = await new WorkflowExecution(app, input.run).apply(input.steps);
  const a = comparable(outcome);
  const b = comparable(again);
  if (a === b) return outcome;
  const err = new NonDeterminismError(
    `run ${input.run.id}: two replays of the same journal differ (workflow code uses time, randomness or I/O outside its context): ${a} vs ${b}`,
  );
  return { newSteps: [], completion: { failure: toFailure(err) } };
}

/** The outcome as text, without stacks (they differ between replays). */
function comparable(outcome: TurnOutcome): string {
  const completion = outcome.completion;
  const c = !completion
    ? undefined
    : "failure" in completion
      ? { failure: { name: completion.failure.name, message: completion.failure.message } }
      : completion;
  return JSON.stringify({ newSteps: outcome.newSteps, completion: c });
}
