// StartWorkflow: validates, inserts the run ready to claim (or returns the idempotent twin), wakes
// coordinators. The run keeps the trace context of this call, so its turns join the client's trace.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { type StartWorkflowRequest, type StartWorkflowResponse, StartWorkflowResponseSchema } from "@weft/contracts";
import { shardOf } from "@weft/runtime";
import { currentTraceparent } from "@weft/telemetry";
import type { JournalContext } from "./context.ts";
import { uuidv7 } from "./ids.ts";
import { runToProto, toBytea } from "./messages.ts";
import { getRunByIdempotencyKey, insertRuns } from "./store/runs.ts";
import { getWorkflowDefs } from "./store/workflow-defs.ts";
import { notFound, optionalText, requireJson, requireName } from "./validation.ts";

export async function startWorkflow(
  j: JournalContext,
  req: StartWorkflowRequest,
  ctx: HandlerContext,
): Promise<StartWorkflowResponse> {
  const name = requireName("workflow_name", req.workflowName);
  const args = requireJson("args", req.args, j.config.maxPayloadBytes);
  const idempotencyKey = optionalText("idempotency_key", req.idempotencyKey, 512);
  const def = (await getWorkflowDefs(j.db, [name])).get(name);
  if (!def) throw notFound("workflow_name", `no worker has registered workflow "${name}"`);
  if (idempotencyKey !== undefined) {
    const existing = await getRunByIdempotencyKey(j.db, idempotencyKey);
    if (existing) return create(StartWorkflowResponseSchema, { run: runToProto(existing), existing: true });
  }
  const id = uuidv7();
  const [inserted] = await insertRuns(j.db, [
    {
      id,
      workflowName: name,
      args: toBytea(args),
      idempotencyKey: idempotencyKey ?? null,
      parentRunId: null,
      parentSeq: null,
      shard: shardOf(id, j.config.shards),
      // This call's SERVER span (a child of the client's span) is the parent of every turn; with
      // tracing off here, the client's own context is kept.
      traceparent: currentTraceparent() || ctx.requestHeader.get("traceparent"),
      appVersion: def.app_version,
    },
  ]);
  if (!inserted) {
    // Lost an idempotency-key race to a concurrent start: return the winner.
    const existing = idempotencyKey !== undefined ? await getRunByIdempotencyKey(j.db, idempotencyKey) : undefined;
    if (!existing) throw new Error("run insert returned nothing");
    return create(StartWorkflowResponseSchema, { run: runToProto(existing), existing: true });
  }
  j.metrics.runsStarted.inc({ kind: "root" });
  j.notifier.wake();
  j.notifier.runsChanged([id]);
  return create(StartWorkflowResponseSchema, { run: runToProto(inserted), existing: false });
}
