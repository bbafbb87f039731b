// StartWorkflow: validates, inserts the run ready to claim (or returns the idempotent twin), wakes
// coordinators. The run keeps the trace context of this call, so its turns join the client's trace.
//
// Concurrent starts are group-committed: while one multi-row INSERT is in flight, the starts that
// arrive wait and go in the next one (one statement checks the workflow's registration and
// inserts, for up to MAX_BATCH runs), so a burst of starts costs a few round trips instead of
// two per start. A start the batch did not insert (unregistered workflow, idempotency key taken)
// takes the slow path alone.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { type StartWorkflowRequest, type StartWorkflowResponse, StartWorkflowResponseSchema } from "@weft/contracts";
import { shardOf } from "@weft/runtime";
import { context, currentTraceparent, SpanKind, SpanStatusCode } from "@weft/telemetry";
import { deliverPushed, firstClaim } from "./claims.ts";
import { DEFAULT_COORDINATOR_TTL_MS } from "./config.ts";
import type { JournalContext } from "./context.ts";
import type { RunRow } from "./db.ts";
import { uuidv7 } from "./ids.ts";
import { runToProto, toBytea } from "./messages.ts";
import { namespaceForStart, principalOf } from "./namespaces.ts";
import { getRunByIdempotencyKey, insertRootRuns, type NewRootRun } from "./store/runs.ts";
import { isVersionRegistered } from "./store/versions.ts";
import { getWorkflowDefs } from "./store/workflow-defs.ts";
import { tracer } from "./telemetry.ts";
import { notFound, optionalText, requireJson, requireName } from "./validation.ts";

const MAX_BATCH = 1000;

interface PendingStart {
  run: NewRootRun;
  resolve(row: RunRow | undefined): void;
  reject(err: unknown): void;
  batchSize?: number;
}

/** Group commit of root runs: one INSERT in flight at a time, carrying every start that waited. */
export class StartBatcher {
  private readonly j: JournalContext;
  private queue: PendingStart[] = [];
  private flushing = false;

  constructor(j: JournalContext) {
    this.j = j;
  }

  /** Resolves with the inserted row, or undefined when the run was not inserted. */
  insert(run: NewRootRun): Promise<{ row: RunRow | undefined; batchSize: number }> {
    return new Promise((resolve, reject) => {
      const pending: PendingStart = {
        run,
        resolve: (row) => resolve({ row, batchSize: pending.batchSize ?? 1 }),
        reject,
      };
      this.queue.push(pending);
      if (!this.flushing) {
        this.flushing = true;
        // The batch belongs to no one caller's trace: its statements run outside every trace.
        context.with(ROOT_CONTEXT, () => setImmediate(() => this.flush()));
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      // New runs a coordinator's stream can take are inserted already claimed for it.
      const reservation = this.j.claims.reserve(
        batch.map((p) => p.run.id),
        this.j.config.shards,
      );
      const leases = new Map(
        reservation?.leases.map((l) => [
          l.runId,
          { owner: l.owner, leaseMs: l.leaseMs, appVersions: l.appVersions ?? null },
        ]),
      );
      try {
        const stop = this.j.metrics.transactionSeconds.startTimer({ name: "startWorkflow" });
        const rows = await insertRootRuns(
          this.j.db,
          batch.map((p) => ({ ...p.run, lease: leases.get(p.run.id) })),
          this.j.config.coordinatorTtlMs ?? DEFAULT_COORDINATOR_TTL_MS,
        ).finally(stop);
        this.j.metrics.batchSize.StartWorkflow.observe(batch.length);
        const pushed = rows.filter((r) => r.lease_owner !== null);
        if (reservation) {
          deliverPushed(this.j, {
            reservation,
            leased: new Set(pushed.map((r) => r.id)),
            pushed: pushed.map((r) => ({ owner: r.lease_owner ?? "", claim: firstClaim(r) })),
          });
        }
        if (rows.length > pushed.length) this.j.notifier.wake();
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const p of batch) {
          p.batchSize = batch.length;
          p.resolve(byId.get(p.run.id));
        }
      } catch (err) {
        if (reservation) this.j.claims.unreserve(reservation);
        for (const p of batch) p.reject(err);
      }
    }
    this.flushing = false;
  }
}

export async function startWorkflow(
  j: JournalContext,
  batcher: StartBatcher,
  req: StartWorkflowRequest,
  ctx: HandlerContext,
): Promise<StartWorkflowResponse> {
  const name = requireName("workflow_name", req.workflowName);
  const args = requireJson("args", req.args, j.config.maxPayloadBytes);
  const idempotencyKey = optionalText("idempotency_key", req.idempotencyKey, 512);
  const namespace = namespaceForStart(principalOf(ctx), req.namespace);
  const appVersion = optionalText("app_version", req.appVersion, 256);
  if (appVersion !== undefined && !(await isVersionRegistered(j.db, name, appVersion))) {
    throw notFound("app_version", `no coordinator has registered version "${appVersion}" of workflow "${name}"`);
  }
  const id = uuidv7();
  const run: NewRootRun = {
    id,
    namespace,
    workflowName: name,
    args: toBytea(args),
    idempotencyKey: idempotencyKey ?? null,
    shard: shardOf(id, j.config.shards),
    appVersion: appVersion ?? null,
    // This call's SERVER span (a child of the client's span) is the parent of every turn; with
    // tracing off here, the client's own context is kept.
    traceparent: currentTraceparent() || ctx.requestHeader.get("traceparent"),
  };
  const inserted = await insertTraced(j, batcher, run);
  if (inserted) {
    j.metrics.runsStarted.inc({ kind: "root" });
    return create(StartWorkflowResponseSchema, { run: runToProto(inserted), existing: false });
  }
  // Not inserted: the workflow is not registered, or the idempotency key belongs to another run.
  const def = (await getWorkflowDefs(j.db, [name])).get(name);
  if (!def) throw notFound("workflow_name", `no worker has registered workflow "${name}"`);
  const existing =
    idempotencyKey !== undefined ? await getRunByIdempotencyKey(j.db, namespace, idempotencyKey) : undefined;
  if (!existing) throw new Error("run insert returned nothing");
  if (existing.workflow_name !== name) {
    // The key names another workflow's run: answering with it would hand the caller a run it did not ask for.
    throw new ConnectError(
      `idempotency_key: "${idempotencyKey}" belongs to run ${existing.id} of workflow "${existing.workflow_name}", not "${name}"`,
      Code.AlreadyExists,
    );
  }
  return create(StartWorkflowResponseSchema, { run: runToProto(existing), existing: true });
}

/** The batched INSERT as a CLIENT span of this call (its wait included), when traced. */
async function insertTraced(j: JournalContext, batcher: StartBatcher, run: NewRootRun): Promise<RunRow | undefined> {
  const span = tracer.startSpan("INSERT runs", {
    kind: SpanKind.CLIENT,
    attributes: {
      ...j.dbAttributes,
      "db.operation.name": "INSERT",
      "db.collection.name": "runs",
      "db.query.summary": "INSERT runs",
    },
  });
  try {
    const { row, batchSize } = await batcher.insert(run);
    span.setAttribute("db.operation.batch.size", batchSize);
    return row;
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
