// GetWorkflow and GetHistory: a run, or a run with its steps and events.
import { create } from "@bufbuild/protobuf";
import {
  type GetHistoryRequest,
  type GetHistoryResponse,
  GetHistoryResponseSchema,
  type GetWorkflowRequest,
  type GetWorkflowResponse,
  GetWorkflowResponseSchema,
} from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import type { Db, RunRow } from "./db.ts";
import { eventToProto, runToProto, stepToProto } from "./messages.ts";
import { eventsOfRun } from "./store/events.ts";
import { getRun } from "./store/runs.ts";
import { stepsOfRun } from "./store/steps.ts";
import { notFound, requireUuid } from "./validation.ts";

export async function requireRun(db: Db, runId: string, field = "run_id"): Promise<RunRow> {
  const run = await getRun(db, runId);
  if (!run) throw notFound(field, `run ${runId} does not exist`);
  return run;
}

export async function getWorkflow(j: JournalContext, req: GetWorkflowRequest): Promise<GetWorkflowResponse> {
  const run = await requireRun(j.db, requireUuid("run_id", req.runId));
  return create(GetWorkflowResponseSchema, { run: runToProto(run) });
}

export async function getHistory(j: JournalContext, req: GetHistoryRequest): Promise<GetHistoryResponse> {
  const run = await requireRun(j.db, requireUuid("run_id", req.runId));
  const [steps, events] = await Promise.all([stepsOfRun(j.db, run.id), eventsOfRun(j.db, run.id)]);
  return create(GetHistoryResponseSchema, {
    run: runToProto(run),
    steps: steps.map(stepToProto),
    events: events.map(eventToProto),
  });
}
