// RecordResultBatch: records many step outcomes in one transaction with multi-row statements,
// idempotently, and marks the runs that can make progress ready in the same transaction. Its
// SERVER span links to the execution span of every result it carries.
import { create } from "@bufbuild/protobuf";
import {
  fromTimestamp,
  type RecordResultBatchRequest,
  type RecordResultBatchResponse,
  RecordResultBatchResponseSchema,
  ResultStatus,
} from "@weft/contracts";
import { type Link, spanContextOf, trace } from "@weft/telemetry";
import { abandonPush, deliverPushed, markReadyAndPush, type Push, reservePush } from "./claims.ts";
import { applyCommitEffects } from "./commit-effects.ts";
import type { JournalContext } from "./context.ts";
import { batchTransaction } from "./db.ts";
import { failureToStored, toBytea } from "./messages.ts";
import { lockRunsOfSteps } from "./store/runs.ts";
import { type ResultToRecord, recordResults, stepStates } from "./store/steps.ts";
import { inDatabaseSpan, observeBatch, tracer } from "./telemetry.ts";
import {
  invalid,
  optionalText,
  optionalTimestamp,
  requireCount,
  requireFailure,
  requireInt32,
  requireJson,
  requireName,
  requireUuid,
} from "./validation.ts";

export const MAX_RESULTS = 10_000;
const WAKING_KINDS = new Set(["query", "mutation", "action"]);

export async function recordResultBatch(
  j: JournalContext,
  req: RecordResultBatchRequest,
): Promise<RecordResultBatchResponse> {
  requireName("executor_id", req.executorId);
  requireCount("results", req.results.length, 0, MAX_RESULTS);
  const toRecord: ResultToRecord[] = [];
  const firstIndex = new Map<string, number>();
  for (const [i, r] of req.results.entries()) {
    const field = `results[${i}]`;
    const stepId = requireUuid(`${field}.step_id`, r.stepId);
    requireUuid(`${field}.run_id`, r.runId);
    requireInt32(`${field}.generation`, r.generation);
    requireInt32(`${field}.attempt`, r.attempt);
    optionalTimestamp(`${field}.started_at`, r.startedAt);
    optionalTimestamp(`${field}.finished_at`, r.finishedAt);
    optionalText(`${field}.traceparent`, r.traceparent, 256);
    const outcome = r.outcome;
    if (outcome.case === undefined) throw invalid(`${field}.outcome`, "needs a result or a failure");
    if (outcome.case === "result") requireJson(`${field}.result`, outcome.value, j.config.maxPayloadBytes);
    else requireFailure(`${field}.failure`, outcome.value, j.config.maxPayloadBytes);
    if (firstIndex.has(stepId)) continue;
    firstIndex.set(stepId, i);
    toRecord.push({
      stepId,
      generation: r.generation,
      status: outcome.case === "result" ? "completed" : "failed",
      result: outcome.case === "result" ? toBytea(outcome.value) : null,
      error: outcome.case === "failure" ? failureToStored(outcome.value) : null,
      attempt: Math.max(r.attempt, 1),
      startedAt: fromTimestamp(r.startedAt) ?? null,
      finishedAt: fromTimestamp(r.finishedAt) ?? null,
    });
  }

  linkResults(req.results);
  // Push credits for the runs these results may make ready, taken before the outcomes are
  // recorded so that those of reserved runs go in as delivered (the claim carries them).
  const reservation = reservePush(
    j,
    req.results.map((r) => r.runId.toLowerCase()),
  );
  let push: Push | undefined;
  let outcome: {
    applied: Awaited<ReturnType<typeof recordResults>>;
    states: Awaited<ReturnType<typeof stepStates>>;
    readyRuns: string[];
  };
  try {
    outcome = await inDatabaseSpan(j, "recordResultBatch", () =>
      batchTransaction(j.db, async (trx) => {
        await lockRunsOfSteps(
          trx,
          toRecord.map((r) => r.stepId),
        );
        const applied = await recordResults(
          trx,
          toRecord,
          reservation?.leases.map((l) => l.runId),
        );
        const appliedIds = new Set(applied.map((a) => a.id));
        const states = await stepStates(
          trx,
          toRecord.filter((r) => !appliedIds.has(r.stepId)).map((r) => r.stepId),
        );
        // Runs a coordinator's stream can take are claimed for it here (no ClaimRuns round trip);
        // runs leased mid-turn are found ready by their commit.
        const marked = await markReadyAndPush(
          trx,
          applied.filter((a) => WAKING_KINDS.has(a.kind)).map((a) => a.run_id),
          reservation,
          applied,
        );
        push = marked.push;
        return { applied, states, readyRuns: marked.readyRuns };
      }),
    );
  } catch (err) {
    abandonPush(j, reservation);
    throw err;
  }
  const { applied, states, readyRuns } = outcome;
  if (push) deliverPushed(j, push);

  applyCommitEffects(j, {
    tasks: [],
    // Coordinators poll for what was not pushed.
    wake: readyRuns.some((id) => !push?.leased.has(id)),
    changedRuns: applied.map((a) => a.run_id),
  });

  const appliedIds = new Set(applied.map((a) => a.id));
  const generationOf = new Map(toRecord.map((r) => [r.stepId, r.generation]));
  const acks = req.results.map((r, i) => {
    const stepId = r.stepId.toLowerCase();
    // A second outcome for the same step within one batch is a duplicate of the first.
    if (firstIndex.get(stepId) !== i) return { stepId: r.stepId, status: ResultStatus.DUPLICATE };
    if (appliedIds.has(stepId)) return { stepId: r.stepId, status: ResultStatus.RECORDED };
    const state = states.get(stepId);
    const duplicate =
      state !== undefined &&
      state.generation === generationOf.get(stepId) &&
      (state.status === "completed" || state.status === "failed");
    return { stepId: r.stepId, status: duplicate ? ResultStatus.DUPLICATE : ResultStatus.STALE };
  });
  const counts = { recorded: 0, duplicate: 0, stale: 0 };
  for (const ack of acks) {
    if (ack.status === ResultStatus.RECORDED) counts.recorded++;
    else if (ack.status === ResultStatus.DUPLICATE) counts.duplicate++;
    else counts.stale++;
  }
  for (const [status, n] of Object.entries(counts)) if (n > 0) j.metrics.results.inc({ status }, n);
  observeBatch(j.metrics, "RecordResultBatch", req.results.length);
  return create(RecordResultBatchResponseSchema, { acks });
}

/** Links per span: the SDK keeps 128 unless OTEL_SPAN_LINK_COUNT_LIMIT says otherwise. */
const LINKS_PER_SPAN = Math.max(Number(process.env.OTEL_SPAN_LINK_COUNT_LIMIT) || 128, 1);

/**
 * Links this call's SERVER span to the span of every step execution the batch carries (their
 * traceparents), so the trace of each run shows which batch recorded its result. Links past the
 * SDK's per-span limit go on child spans `RecordResultBatch links`, so none is dropped.
 */
function linkResults(results: RecordResultBatchRequest["results"]): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  const links: Link[] = [];
  for (const r of results) {
    const sc = spanContextOf(r.traceparent);
    if (sc) links.push({ context: sc, attributes: { "weft.step.id": r.stepId, "weft.run.id": r.runId } });
  }
  span.addLinks(links.slice(0, LINKS_PER_SPAN));
  for (let i = LINKS_PER_SPAN; i < links.length; i += LINKS_PER_SPAN) {
    tracer.startSpan("RecordResultBatch links", { links: links.slice(i, i + LINKS_PER_SPAN) }).end();
  }
}
