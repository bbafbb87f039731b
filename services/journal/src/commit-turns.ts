// CommitTurns: all turns of a call in one transaction. Each turn passes the fence (owner, token,
// unexpired lease) or writes nothing; then its new steps are journaled with multi-row statements
// (tasks, timers, event waits, child runs), or its completion ends the run. Tasks are published
// after the commit.
import { create } from "@bufbuild/protobuf";
import {
  type CommitTurnsRequest,
  type CommitTurnsResponse,
  CommitTurnsResponseSchema,
  fromTimestamp,
  type NewStep,
  StepKind,
  type Turn,
  TurnStatus,
} from "@weft/contracts";
import { shardOf } from "@weft/runtime";
import { claimsOf, DEFAULT_LEASE_MS } from "./claims.ts";
import { applyCommitEffects } from "./commit-effects.ts";
import { journalLimits } from "./config.ts";
import type { JournalContext } from "./context.ts";
import { batchTransaction, type StepKindText } from "./db.ts";
import { uuidv7 } from "./ids.ts";
import { stepLimitFailure, stepOverLimit } from "./limits.ts";
import { failureToStored, stepKindFromProto, TASK_KINDS, toBytea } from "./messages.ts";
import { endRuns, type RunEnding } from "./store/run-end.ts";
import {
  fenceAndRelease,
  insertRuns,
  leaseReadyRuns,
  lockRuns,
  markReady,
  type NewRun,
  runStatuses,
  runVersions,
} from "./store/runs.ts";
import { completeDueSleeps, consumeWaitingEvents, insertSteps, type NewStepRow } from "./store/steps.ts";
import { getWorkflowDefs } from "./store/workflow-defs.ts";
import { inDatabaseSpan, observeBatch, recordRunEnds } from "./telemetry.ts";
import {
  invalid,
  notFound,
  optionalText,
  optionalTimestamp,
  requireCount,
  requireFailure,
  requireInt32,
  requireInt64,
  requireJson,
  requireName,
  requireRange,
  requireUuid,
} from "./validation.ts";

export const MAX_TURNS = 1000;
export const MAX_NEW_STEPS = 10_000;

function validateNewStep(j: JournalContext, field: string, step: NewStep): StepKindText {
  requireRange(`${field}.seq`, step.seq, 1, 2_000_000_000);
  requireName(`${field}.name`, step.name);
  const kind = stepKindFromProto[step.kind];
  if (!kind || kind === "on_complete")
    throw invalid(`${field}.kind`, `${StepKind[step.kind] ?? step.kind} cannot be journaled by a turn`);
  requireJson(`${field}.args`, step.args, j.config.maxPayloadBytes);
  if (kind === "sleep" && !step.wakeAt) throw invalid(`${field}.wake_at`, "is required for a SLEEP step");
  optionalTimestamp(`${field}.wake_at`, step.wakeAt);
  optionalTimestamp(`${field}.timeout_at`, step.timeoutAt);
  if (kind === "event") requireName(`${field}.event_name`, step.eventName);
  if (kind === "child") requireName(`${field}.child_workflow_name`, step.childWorkflowName);
  return kind;
}

function validateTurn(j: JournalContext, field: string, turn: Turn): void {
  requireUuid(`${field}.run_id`, turn.runId);
  requireInt64(`${field}.lease_token`, turn.leaseToken);
  requireInt32(`${field}.generation`, turn.generation);
  optionalText(`${field}.traceparent`, turn.traceparent, 256);
  requireCount(`${field}.new_steps`, turn.newSteps.length, 0, MAX_NEW_STEPS);
  const seqs = new Set<number>();
  for (const [i, step] of turn.newSteps.entries()) {
    validateNewStep(j, `${field}.new_steps[${i}]`, step);
    if (seqs.has(step.seq)) throw invalid(`${field}.new_steps[${i}].seq`, `seq ${step.seq} appears twice`);
    seqs.add(step.seq);
  }
  const outcome = turn.completion?.outcome;
  if (turn.completion && outcome?.case === undefined) {
    throw invalid(`${field}.completion.outcome`, "needs a result or a failure");
  }
  if (outcome?.case === "result") requireJson(`${field}.completion.result`, outcome.value, j.config.maxPayloadBytes);
  if (outcome?.case === "failure")
    requireFailure(`${field}.completion.failure`, outcome.value, j.config.maxPayloadBytes);
}

export async function commitTurns(j: JournalContext, req: CommitTurnsRequest): Promise<CommitTurnsResponse> {
  const owner = requireName("owner", req.owner);
  requireCount("turns", req.turns.length, 1, MAX_TURNS);
  const leaseMs = req.leaseMs === 0 ? DEFAULT_LEASE_MS : requireRange("lease_ms", req.leaseMs, 100, 3_600_000);
  const seenRuns = new Set<string>();
  const childNames = new Set<string>();
  for (const [i, turn] of req.turns.entries()) {
    validateTurn(j, `turns[${i}]`, turn);
    const id = turn.runId.toLowerCase();
    if (seenRuns.has(id)) throw invalid(`turns[${i}].run_id`, `run ${id} has two turns in one call`);
    seenRuns.add(id);
    for (const step of turn.newSteps) if (step.kind === StepKind.CHILD) childNames.add(step.childWorkflowName);
  }
  const { maxStepsPerRun } = journalLimits(j.config);
  const defs = await getWorkflowDefs(j.db, [...childNames]);
  for (const [i, turn] of req.turns.entries()) {
    for (const [k, step] of turn.newSteps.entries()) {
      if (step.kind === StepKind.CHILD && !defs.has(step.childWorkflowName)) {
        throw notFound(
          `turns[${i}].new_steps[${k}].child_workflow_name`,
          `no worker has registered workflow "${step.childWorkflowName}"`,
        );
      }
    }
  }

  const result = await inDatabaseSpan(j, "commitTurns", () =>
    batchTransaction(j.db, async (trx) => {
      const turns = req.turns.map((t) => ({ ...t, runId: t.runId.toLowerCase() }));
      await lockRuns(
        trx,
        turns.map((t) => t.runId),
      );
      const passed = new Map(
        (
          await fenceAndRelease(
            trx,
            owner,
            turns.map((t) => ({ runId: t.runId, token: t.leaseToken })),
          )
        ).map((r) => [r.id, r]),
      );
      const rejected = await runStatuses(
        trx,
        turns.filter((t) => !passed.has(t.runId)).map((t) => t.runId),
      );

      const newSteps: NewStepRow[] = [];
      const childRuns = new Map<string, NewRun>();
      const endings: RunEnding[] = [];
      for (const turn of turns) {
        const run = passed.get(turn.runId);
        if (!run) continue;
        const outcome = turn.completion?.outcome;
        if (outcome?.case === "result" || outcome?.case === "failure") {
          // A completion ends the run; steps journaled alongside it would be canceled at once.
          endings.push(
            outcome.case === "result"
              ? { runId: run.id, status: "completed", result: toBytea(outcome.value), error: null }
              : { runId: run.id, status: "failed", result: null, error: failureToStored(outcome.value) },
          );
          continue;
        }
        // A run past WEFT_MAX_STEPS_PER_RUN fails (the workflow cannot go on without its steps).
        const over = stepOverLimit(turn.newSteps, maxStepsPerRun);
        if (over !== undefined) {
          endings.push({
            runId: run.id,
            status: "failed",
            result: null,
            error: stepLimitFailure(over, maxStepsPerRun),
          });
          continue;
        }
        for (const step of turn.newSteps) {
          const kind = stepKindFromProto[step.kind] as StepKindText;
          const id = uuidv7();
          let childRunId: string | null = null;
          if (kind === "child") {
            childRunId = uuidv7();
            childRuns.set(id, {
              id: childRunId,
              workflowName: step.childWorkflowName,
              args: toBytea(step.args),
              idempotencyKey: null,
              parentRunId: run.id,
              parentSeq: step.seq,
              shard: shardOf(childRunId, j.config.shards),
              traceparent: turn.traceparent || run.traceparent,
              appVersion: defs.get(step.childWorkflowName)?.app_version ?? null,
            });
          }
          newSteps.push({
            id,
            runId: run.id,
            generation: run.generation,
            seq: step.seq,
            name: step.name,
            kind,
            args: toBytea(step.args),
            wakeAt: kind === "sleep" ? (fromTimestamp(step.wakeAt) ?? null) : null,
            timeoutAt: kind === "event" ? (fromTimestamp(step.timeoutAt) ?? null) : null,
            eventName: kind === "event" ? step.eventName : null,
            childWorkflowName: kind === "child" ? step.childWorkflowName : null,
            childRunId,
            dispatched: TASK_KINDS.includes(kind),
            shard: run.shard,
            traceparent: turn.traceparent || run.traceparent,
          });
        }
      }

      const inserted = await insertSteps(trx, newSteps);
      const insertedChildren = inserted.flatMap((s) => {
        const child = childRuns.get(s.id);
        return child ? [child] : [];
      });
      // A child run belongs to the app version of its parent (the same app module defines both).
      const parentVersions = await runVersions(
        trx,
        insertedChildren.map((c) => c.parentRunId ?? ""),
      );
      for (const child of insertedChildren) {
        const version = parentVersions.get(child.parentRunId ?? "");
        if (version !== undefined && version !== null) child.appVersion = version;
      }
      await insertRuns(trx, insertedChildren);
      const completedNow = [
        ...(await completeDueSleeps(
          trx,
          inserted.filter((s) => s.kind === "sleep").map((s) => s.id),
        )),
        ...(await consumeWaitingEvents(
          trx,
          inserted.filter((s) => s.kind === "event").map((s) => s.id),
        )),
      ];
      const readyNow = new Set(await markReady(trx, completedNow));
      const ended = await endRuns(trx, endings);
      const endedIds = new Set(ended.ended.map((r) => r.id));
      // Runs that are ready again stay with the caller: leased anew and returned with their claims.
      // Not past runs waiting for the owner's ClaimRuns (ClaimHub.reserve): those go first.
      const continued =
        req.continueReady && !j.claims.backlogged(owner)
          ? await claimsOf(
              trx,
              await leaseReadyRuns(
                trx,
                [...passed.values()]
                  .filter((r) => !endedIds.has(r.id) && (r.ready || readyNow.has(r.id)))
                  .map((r) => ({ runId: r.id, owner, leaseMs })),
              ),
            )
          : [];
      return { turns, passed, rejected, inserted, insertedChildren, readyNow, ended, endedIds, continued };
    }),
  );

  const { turns, passed, rejected, inserted, insertedChildren, readyNow, ended, endedIds, continued } = result;
  const continuedIds = new Set(continued.map((c) => c.run?.id));
  observeBatch(j.metrics, "CommitTurns", turns.length);
  j.metrics.runsStarted.inc({ kind: "child" }, insertedChildren.length);
  recordRunEnds(j.metrics, ended.ended);
  let earliestTimer: Date | null = null;
  for (const s of inserted) {
    const due = s.kind === "sleep" && s.status === "running" ? s.wake_at : s.kind === "event" ? s.timeout_at : null;
    if (due && (!earliestTimer || due < earliestTimer)) earliestTimer = due;
  }
  const workflowOf = new Map([...passed.values()].map((r) => [r.id, r.workflow_name]));
  const readyAgain = [...passed.values()].some(
    (r) => !endedIds.has(r.id) && !continuedIds.has(r.id) && (r.ready || readyNow.has(r.id)),
  );
  applyCommitEffects(j, {
    tasks: [
      ...inserted
        .filter((s) => TASK_KINDS.includes(s.kind))
        .map((step) => ({ step, workflowName: workflowOf.get(step.run_id) ?? "" })),
      ...ended.hookTasks.map((step) => ({ step, workflowName: step.workflow_name })),
    ],
    wake: readyAgain || insertedChildren.length > 0 || ended.readyRuns.length > 0,
    changedRuns: [
      ...passed.keys(),
      ...insertedChildren.map((c) => c.id),
      ...ended.ended.map((r) => r.id),
      ...ended.readyRuns,
    ],
    endedRuns: endedIds,
    earliestTimer,
  });

  return create(CommitTurnsResponseSchema, {
    results: turns.map((t) => {
      const run = passed.get(t.runId);
      if (!run) {
        const status = rejected.get(t.runId);
        return {
          runId: t.runId,
          status: status !== undefined && status !== "running" ? TurnStatus.NOT_RUNNING : TurnStatus.FENCED,
          ready: false,
        };
      }
      const ready = !endedIds.has(run.id) && !continuedIds.has(run.id) && (run.ready || readyNow.has(run.id));
      return { runId: t.runId, status: TurnStatus.COMMITTED, ready };
    }),
    claimed: continued,
  });
}
