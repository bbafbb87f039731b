// Translation between the journal's wire types and the SDK replay engine: a claimed run becomes
// the engine's input; the engine's outcome becomes a Turn to commit.
import { create } from "@bufbuild/protobuf";
import {
  type ClaimedRun,
  decodePayload,
  encodePayload,
  type Failure,
  FailureSchema,
  NewStepSchema,
  stepKindNames,
  stepKindValues,
  stepStatusNames,
  type Turn,
  TurnCompletionSchema,
  TurnSchema,
  timestampMs,
  toTimestamp,
} from "@weft/contracts";
import type { JournalStep, NewStepCommand, StepKindName, TurnInput, TurnOutcome } from "@weft/sdk/workflow";

/** Kinds the workflow code journals (the on-complete hook is the journal's own). */
const replayedKinds = new Set<string>(["query", "mutation", "action", "sleep", "event", "child", "patch"]);

function failureOf(error: Failure | undefined): { name: string; message: string } | undefined {
  return error ? { name: error.name, message: error.message } : undefined;
}

/**
 * One claim per run, the newest lease of each. A run claimed again while an older claim of it
 * waited to be turned (its lease expired during a pause, and a ClaimRuns or a push leased it
 * anew) would put two turns of the run in one CommitTurns, which the journal refuses whole: every
 * turn of the batch would wait for its lease to expire. Lease tokens grow with each lease of a
 * run, so the older claims are superseded: their turns would be fenced, and are fenced here.
 */
export function newestClaims(claims: readonly ClaimedRun[]): { newest: ClaimedRun[]; superseded: ClaimedRun[] } {
  const newest = new Map<string, ClaimedRun>();
  const superseded: ClaimedRun[] = [];
  for (const claim of claims) {
    const runId = claim.run?.id ?? "";
    const held = newest.get(runId);
    if (held === undefined) newest.set(runId, claim);
    else if (held.leaseToken >= claim.leaseToken) superseded.push(claim);
    else {
      superseded.push(held);
      newest.set(runId, claim);
    }
  }
  return { newest: [...newest.values()], superseded };
}

/** The replay input for a claimed run; the on-complete entry (seq 0) is not part of replay. */
export function replayInput(claimed: ClaimedRun): TurnInput {
  const run = claimed.run;
  if (!run) throw new Error("journal returned a claimed run without its run");
  const steps: JournalStep[] = [];
  for (const step of claimed.steps) {
    const kind = stepKindNames[step.kind];
    if (step.seq === 0 || !replayedKinds.has(kind)) continue;
    const status = stepStatusNames[step.status] === "unspecified" ? "running" : stepStatusNames[step.status];
    steps.push({
      seq: step.seq,
      name: step.name,
      kind: kind as StepKindName,
      status: status as JournalStep["status"],
      result: status === "completed" ? decodePayload(step.result) : undefined,
      failure: failureOf(step.error),
      completionOrder: step.completionOrder,
      completedAtMs: timestampMs(step.completedAt),
      childRunId: step.childRunId || undefined,
    });
  }
  return {
    run: {
      id: run.id,
      workflowName: run.workflowName,
      args: decodePayload(run.args),
      createdAtMs: timestampMs(run.createdAt) ?? Date.now(),
      generation: run.generation,
    },
    steps,
  };
}

function newStep(command: NewStepCommand) {
  return create(NewStepSchema, {
    seq: command.seq,
    name: command.name,
    kind: stepKindValues[command.kind],
    args: encodePayload(command.args),
    wakeAt: command.wakeAtMs === undefined ? undefined : toTimestamp(command.wakeAtMs),
    eventName: command.eventName ?? "",
    timeoutAt: command.timeoutAtMs === undefined ? undefined : toTimestamp(command.timeoutAtMs),
    childWorkflowName: command.childWorkflowName ?? "",
  });
}

/** The Turn that commits a replay outcome under the claim's lease. */
export function turnOf(claimed: ClaimedRun, outcome: TurnOutcome, traceparent = ""): Turn {
  const run = claimed.run;
  if (!run) throw new Error("journal returned a claimed run without its run");
  let completion: Turn["completion"];
  if (outcome.completion) {
    completion =
      "result" in outcome.completion
        ? create(TurnCompletionSchema, {
            outcome: { case: "result", value: encodePayload(outcome.completion.result ?? null) },
          })
        : create(TurnCompletionSchema, {
            outcome: {
              case: "failure",
              value: create(FailureSchema, {
                name: outcome.completion.failure.name,
                message: outcome.completion.failure.message,
                stack: outcome.completion.failure.stack ?? "",
                details:
                  outcome.completion.failure.details === undefined
                    ? new Uint8Array(0)
                    : encodePayload(outcome.completion.failure.details),
              }),
            },
          });
  }
  return create(TurnSchema, {
    runId: run.id,
    leaseToken: claimed.leaseToken,
    generation: run.generation,
    newSteps: outcome.newSteps.map(newStep),
    completion,
    traceparent,
  });
}
