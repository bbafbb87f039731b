// CancelWorkflow: ends a running run as canceled, with its running steps and child runs; an
// ended run is returned as it is.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { type CancelWorkflowRequest, type CancelWorkflowResponse, CancelWorkflowResponseSchema } from "@weft/contracts";
import { applyCommitEffects } from "./commit-effects.ts";
import type { JournalContext } from "./context.ts";
import { runToProto } from "./messages.ts";
import { principalOf, visibleRun } from "./namespaces.ts";
import { endRuns } from "./store/run-end.ts";
import { getRun, getRunForUpdate } from "./store/runs.ts";
import { inDatabaseSpan, recordRunEnds } from "./telemetry.ts";
import { notFound, optionalText, requireUuid } from "./validation.ts";

export async function cancelWorkflow(
  j: JournalContext,
  req: CancelWorkflowRequest,
  ctx: HandlerContext,
): Promise<CancelWorkflowResponse> {
  const principal = principalOf(ctx);
  const runId = requireUuid("run_id", req.runId);
  const reason = optionalText("reason", req.reason, 4096) ?? "canceled";
  const outcome = await inDatabaseSpan(j, "cancelWorkflow", () =>
    j.db.transaction().execute(async (trx) => {
      const run = visibleRun(principal, await getRunForUpdate(trx, runId), runId);
      if (run.status !== "running") return undefined;
      return endRuns(trx, [
        { runId, status: "canceled", result: null, error: { name: "CanceledError", message: reason } },
      ]);
    }),
  );
  if (outcome) {
    recordRunEnds(j.metrics, outcome.ended);
    applyCommitEffects(j, {
      tasks: outcome.hookTasks.map((step) => ({ step, workflowName: step.workflow_name })),
      wake: outcome.readyRuns.length > 0,
      changedRuns: [...outcome.ended.map((r) => r.id), ...outcome.readyRuns],
      endedRuns: outcome.ended.map((r) => r.id),
    });
  }
  const run = await getRun(j.db, runId);
  if (!run) throw notFound("run_id", `run ${runId} does not exist`);
  return create(CancelWorkflowResponseSchema, { run: runToProto(run) });
}
