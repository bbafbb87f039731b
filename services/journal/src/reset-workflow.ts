// ResetWorkflow and RetryFailed: start a new generation of runs that keeps their journal before
// a step and runs the rest again (store/reset.ts). A run of any status can be reset; an ended run
// becomes running. The new generation and the bumped lease token make everything of the old one
// stale: a turn in flight is fenced, a late step result is acknowledged as STALE, a coordinator's
// cached execution is dropped (generation change).
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  fromTimestamp,
  type ResetWorkflowRequest,
  type ResetWorkflowResponse,
  ResetWorkflowResponseSchema,
  type RetryFailedRequest,
  type RetryFailedResponse,
  RetryFailedResponseSchema,
} from "@weft/contracts";
import { applyCommitEffects } from "./commit-effects.ts";
import type { JournalContext } from "./context.ts";
import { DEFAULT_PAGE_SIZE, decodePageToken, encodePageToken } from "./list-workflows.ts";
import { runToProto } from "./messages.ts";
import { namespaceForList, principalOf, visibleRun } from "./namespaces.ts";
import {
  countFailedRuns,
  type FailedRunFilter,
  failedRuns,
  firstSeqNamed,
  journalExtents,
  type ResetOutcome,
  type ResetSpec,
  resetRuns,
} from "./store/reset.ts";
import { getRunForUpdate, lockRuns } from "./store/runs.ts";
import { isVersionRegistered } from "./store/versions.ts";
import { inDatabaseSpan, recordRunEnds } from "./telemetry.ts";
import { invalid, notFound, optionalText, optionalTimestamp, requireUuid } from "./validation.ts";

export async function resetWorkflow(
  j: JournalContext,
  req: ResetWorkflowRequest,
  ctx: HandlerContext,
): Promise<ResetWorkflowResponse> {
  const principal = principalOf(ctx);
  const runId = requireUuid("run_id", req.runId);
  const stepName = optionalText("from_step_name", req.fromStepName, 256);
  if (stepName !== undefined && req.fromSeq !== 0) {
    throw invalid("from_seq", "give from_seq or from_step_name, not both");
  }
  if (stepName === undefined && req.fromSeq === 0) {
    throw invalid("from_seq", "is required (1 resets from the first step), or give from_step_name");
  }
  const appVersion = optionalText("app_version", req.appVersion, 256);
  optionalText("reason", req.reason, 4096);
  const { outcome, fromSeq } = await inDatabaseSpan(j, "resetWorkflow", () =>
    j.db.transaction().execute(async (trx) => {
      // A run of another namespace answers exactly as a missing one.
      const run = visibleRun(principal, await getRunForUpdate(trx, runId), runId);
      if (appVersion !== undefined && !(await isVersionRegistered(trx, run.workflow_name, appVersion))) {
        throw notFound(
          "app_version",
          `no coordinator has registered version "${appVersion}" of workflow "${run.workflow_name}"`,
        );
      }
      const extent = (await journalExtents(trx, [runId])).get(runId) ?? { maxSeq: 0, firstFailedSeq: null };
      let fromSeq = req.fromSeq;
      if (stepName !== undefined) {
        const seq = await firstSeqNamed(trx, runId, stepName);
        if (seq === undefined) {
          throw notFound(
            "from_step_name",
            `run ${runId} has no step named "${stepName}" in generation ${run.generation}`,
          );
        }
        fromSeq = seq;
      } else if (fromSeq > extent.maxSeq + 1) {
        throw invalid(
          "from_seq",
          `must be between 1 and ${extent.maxSeq + 1} (the run's last seq + 1), got ${fromSeq}`,
        );
      }
      const outcome = await resetRuns(trx, [{ runId, fromSeq, appVersion: appVersion ?? null }]);
      return { outcome, fromSeq };
    }),
  );
  applyResetEffects(j, outcome);
  const run = outcome.runs[0];
  if (!run) throw notFound("run_id", `run ${runId} does not exist`);
  j.logger.info({ runId, fromSeq, generation: run.generation, reason: req.reason || undefined }, "run reset");
  return create(ResetWorkflowResponseSchema, { run: runToProto(run), fromSeq });
}

export async function retryFailed(
  j: JournalContext,
  req: RetryFailedRequest,
  ctx: HandlerContext,
): Promise<RetryFailedResponse> {
  // Only the caller's namespace (every namespace for a token of all of them).
  const namespace = namespaceForList(principalOf(ctx), "");
  if (req.pageSize < 0 || req.pageSize > j.config.pageSizeMax) {
    throw invalid("page_size", `must be between 0 and ${j.config.pageSizeMax}, got ${req.pageSize}`);
  }
  const pageSize = req.pageSize === 0 ? Math.min(DEFAULT_PAGE_SIZE, j.config.pageSizeMax) : req.pageSize;
  const workflowName = optionalText("workflow_name", req.workflowName, 256);
  const appVersion = optionalText("app_version", req.appVersion, 256);
  if (appVersion !== undefined) {
    if (workflowName === undefined) throw invalid("app_version", "needs workflow_name (versions are per workflow)");
    if (!(await isVersionRegistered(j.db, workflowName, appVersion))) {
      throw notFound(
        "app_version",
        `no coordinator has registered version "${appVersion}" of workflow "${workflowName}"`,
      );
    }
  }
  optionalTimestamp("created_after", req.createdAfter);
  optionalTimestamp("created_before", req.createdBefore);
  const filter: FailedRunFilter = {
    namespace,
    workflowName,
    createdAfter: fromTimestamp(req.createdAfter),
    createdBefore: fromTimestamp(req.createdBefore),
    errorContains: optionalText("error_contains", req.errorContains, 1024),
    before: req.pageToken === "" ? undefined : decodePageToken(req.pageToken),
  };
  if (req.dryRun) {
    return create(RetryFailedResponseSchema, {
      count: await countFailedRuns(j.db, filter),
      runIds: [],
      nextPageToken: "",
    });
  }
  const candidates = await failedRuns(j.db, filter, pageSize + 1);
  const page = candidates.slice(0, pageSize);
  const last = page[page.length - 1];
  const nextPageToken = candidates.length > pageSize && last ? encodePageToken(last.created_text, last.id) : "";
  if (page.length === 0) return create(RetryFailedResponseSchema, { count: 0, runIds: [], nextPageToken });
  const outcome = await inDatabaseSpan(j, "retryFailed", () =>
    j.db.transaction().execute(async (trx) => {
      const ids = page.map((r) => r.id);
      await lockRuns(trx, ids);
      // Only runs still failed once locked (a concurrent reset may have taken some).
      const extents = await journalExtents(trx, ids);
      const rows = await trx
        .selectFrom("runs")
        .select("id")
        .where("id", "in", ids)
        .where("status", "=", "failed")
        .execute();
      const specs: ResetSpec[] = rows.map((r) => {
        const extent = extents.get(r.id) ?? { maxSeq: 0, firstFailedSeq: null };
        return { runId: r.id, fromSeq: extent.firstFailedSeq ?? extent.maxSeq + 1, appVersion: appVersion ?? null };
      });
      return specs.length > 0 ? resetRuns(trx, specs) : undefined;
    }),
  );
  if (outcome) applyResetEffects(j, outcome);
  const runIds = outcome?.runs.map((r) => r.id) ?? [];
  if (runIds.length > 0) j.logger.info({ runs: runIds.length }, "failed runs reset");
  return create(RetryFailedResponseSchema, { count: runIds.length, runIds, nextPageToken });
}

function applyResetEffects(j: JournalContext, outcome: ResetOutcome): void {
  recordRunEnds(j.metrics, outcome.children.ended);
  applyCommitEffects(j, {
    tasks: [
      ...outcome.tasks.map((step) => ({ step, workflowName: step.workflow_name })),
      ...outcome.children.hookTasks.map((step) => ({ step, workflowName: step.workflow_name })),
    ],
    wake: true,
    changedRuns: [
      ...outcome.runs.map((r) => r.id),
      ...outcome.children.ended.map((r) => r.id),
      ...outcome.children.readyRuns,
    ],
    endedRuns: outcome.children.ended.map((r) => r.id),
    earliestTimer: outcome.earliestTimer,
  });
}
