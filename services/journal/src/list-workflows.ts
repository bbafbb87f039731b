// ListWorkflows: newest first, filtered, keyset-paged by (created_at, id) behind an opaque token.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  fromTimestamp,
  type ListWorkflowsRequest,
  type ListWorkflowsResponse,
  ListWorkflowsResponseSchema,
  RunStatus,
} from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import type { RunStatusText } from "./db.ts";
import { runStatusFromProto, runToProto } from "./messages.ts";
import { namespaceForList, principalOf } from "./namespaces.ts";
import { listRuns } from "./store/runs.ts";
import { invalid, optionalText, optionalTimestamp, optionalUuid, requireUuid } from "./validation.ts";

export const DEFAULT_PAGE_SIZE = 100;
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

export function encodePageToken(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString("base64url");
}

export function decodePageToken(token: string): { createdAt: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw invalid("page_token", "is not a token this service issued");
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "string" ||
    typeof parsed[1] !== "string" ||
    !PG_TIMESTAMP.test(parsed[0])
  ) {
    throw invalid("page_token", "is not a token this service issued");
  }
  return { createdAt: parsed[0], id: requireUuid("page_token", parsed[1]) };
}

export async function listWorkflows(
  j: JournalContext,
  req: ListWorkflowsRequest,
  ctx: HandlerContext,
): Promise<ListWorkflowsResponse> {
  const namespace = namespaceForList(principalOf(ctx), req.namespace);
  if (req.pageSize < 0 || req.pageSize > j.config.pageSizeMax) {
    throw invalid("page_size", `must be between 0 and ${j.config.pageSizeMax}, got ${req.pageSize}`);
  }
  const pageSize = req.pageSize === 0 ? Math.min(DEFAULT_PAGE_SIZE, j.config.pageSizeMax) : req.pageSize;
  const statuses: RunStatusText[] = req.statuses.map((s, i) => {
    const text = runStatusFromProto[s];
    if (!text) throw invalid(`statuses[${i}]`, `${RunStatus[s] ?? s} is not a run status to filter by`);
    return text;
  });
  const workflowName = optionalText("workflow_name", req.workflowName, 256);
  const parentRunId = optionalUuid("parent_run_id", req.parentRunId);
  optionalTimestamp("created_after", req.createdAfter);
  optionalTimestamp("created_before", req.createdBefore);
  const before = req.pageToken === "" ? undefined : decodePageToken(req.pageToken);
  const rows = await listRuns(j.db, {
    namespace,
    workflowName,
    statuses,
    createdAfter: fromTimestamp(req.createdAfter),
    createdBefore: fromTimestamp(req.createdBefore),
    parentRunId,
    before,
    limit: pageSize + 1,
  });
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return create(ListWorkflowsResponseSchema, {
    runs: page.map(runToProto),
    nextPageToken: rows.length > pageSize && last ? encodePageToken(last.created_text, last.id) : "",
  });
}
