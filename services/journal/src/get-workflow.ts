// GetWorkflow and GetHistory: a run, or a run with its steps and events.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type GetHistoryRequest,
  type GetHistoryResponse,
  GetHistoryResponseSchema,
  type GetWorkflowRequest,
  type GetWorkflowResponse,
  GetWorkflowResponseSchema,
} from "@weft/contracts";
import type { Principal } from "@weft/runtime";
import { journalLimits } from "./config.ts";
import type { JournalContext } from "./context.ts";
import type { Db, RunRow } from "./db.ts";
import { eventToProto, runToProto, stepToProto } from "./messages.ts";
import { principalOf, visibleRun } from "./namespaces.ts";
import { eventsOfRunPage } from "./store/events.ts";
import { getRun } from "./store/runs.ts";
import { stepsOfRunPage } from "./store/steps.ts";
import { invalid, requireUuid } from "./validation.ts";

/** The run, if it exists and the principal may see it (NotFound alike otherwise). */
export async function requireRun(db: Db, principal: Principal, runId: string, field = "run_id"): Promise<RunRow> {
  return visibleRun(principal, await getRun(db, runId), runId, field);
}

export async function getWorkflow(
  j: JournalContext,
  req: GetWorkflowRequest,
  ctx: HandlerContext,
): Promise<GetWorkflowResponse> {
  const run = await requireRun(j.db, principalOf(ctx), requireUuid("run_id", req.runId));
  return create(GetWorkflowResponseSchema, { run: runToProto(run) });
}

/** GetHistory pages by position: a run's journal only grows at its end (steps by generation and seq, events by time). */
export function encodeHistoryToken(runId: string, steps: number, events: number): string {
  return Buffer.from(JSON.stringify([runId, steps, events])).toString("base64url");
}

export function decodeHistoryToken(runId: string, token: string): { steps: number; events: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid("page_token", "is not a token this service issued");
  }
  const ok = (n: unknown) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  if (!Array.isArray(parsed) || parsed.length !== 3 || !ok(parsed[1]) || !ok(parsed[2])) {
    throw invalid("page_token", "is not a token this service issued");
  }
  if (parsed[0] !== runId) throw invalid("page_token", `belongs to another run than ${runId}`);
  return { steps: parsed[1] as number, events: parsed[2] as number };
}

export async function getHistory(
  j: JournalContext,
  req: GetHistoryRequest,
  ctx: HandlerContext,
): Promise<GetHistoryResponse> {
  const runId = requireUuid("run_id", req.runId);
  const { historyPageMax } = journalLimits(j.config);
  if (req.pageSize < 0 || req.pageSize > historyPageMax) {
    throw invalid("page_size", `must be between 0 and ${historyPageMax} (WEFT_HISTORY_PAGE_MAX), got ${req.pageSize}`);
  }
  const pageSize = req.pageSize === 0 ? historyPageMax : req.pageSize;
  const from = req.pageToken === "" ? { steps: 0, events: 0 } : decodeHistoryToken(runId, req.pageToken);
  const run = await requireRun(j.db, principalOf(ctx), runId);
  const [steps, events] = await Promise.all([
    stepsOfRunPage(j.db, run.id, from.steps, pageSize + 1),
    eventsOfRunPage(j.db, run.id, from.events, pageSize + 1),
  ]);
  const more = steps.length > pageSize || events.length > pageSize;
  const stepPage = steps.slice(0, pageSize);
  const eventPage = events.slice(0, pageSize);
  return create(GetHistoryResponseSchema, {
    run: runToProto(run),
    steps: stepPage.map(stepToProto),
    events: eventPage.map(eventToProto),
    nextPageToken: more ? encodeHistoryToken(run.id, from.steps + stepPage.length, from.events + eventPage.length) : "",
  });
}
