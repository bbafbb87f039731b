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
import { ROOT_CONTEXT, type Span } from "@opentelemetry/api";
import {
  type StartWorkflowRequest,
  type StartWorkflowResponse,
  StartWorkflowResponseSchema,
  type StartWorkflowsRequest,
  type StartWorkflowsResponse,
  StartWorkflowsResponseSchema,
} from "@weft/contracts";
import { shardOf } from "@weft/runtime";
import { context, currentTraceparent, SpanKind, SpanStatusCode, trace } from "@weft/telemetry";
import { deliverPushed, firstClaim } from "./claims.ts";
import { DEFAULT_COORDINATOR_TTL_MS } from "./config.ts";
import type { JournalContext } from "./context.ts";
import type { RunRow } from "./db.ts";
import { uuidv7 } from "./ids.ts";
import { runToProto, toBytea } from "./messages.ts";
import { namespaceForStart, principalOf } from "./namespaces.ts";
import { getRunByIdempotencyKey, insertRootRuns, type NewRootRun, runsByIdempotencyKeys } from "./store/runs.ts";
import { isVersionRegistered } from "./store/versions.ts";
import { getWorkflowDefs } from "./store/workflow-defs.ts";
import { tracer } from "./telemetry.ts";
import { notFound, optionalText, requireCount, requireJson, requireName } from "./validation.ts";

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

/** A start checked and ready to insert. */
interface PreparedStart {
  run: NewRootRun;
  name: string;
  namespace: string;
  idempotencyKey: string | undefined;
}

/** A start's idempotency key within its namespace, as runsByIdempotencyKeys keys its answer. */
const keyOf = (s: PreparedStart) => `${s.namespace}\u0000${s.idempotencyKey}`;

/** Checks a start (every error names its field) and builds its run; inserts nothing. */
function prepareStart(j: JournalContext, req: StartWorkflowRequest, ctx: HandlerContext): PreparedStart {
  const name = requireName("workflow_name", req.workflowName);
  const args = requireJson("args", req.args, j.config.maxPayloadBytes);
  const idempotencyKey = optionalText("idempotency_key", req.idempotencyKey, 512);
  const namespace = namespaceForStart(principalOf(ctx), req.namespace);
  const appVersion = optionalText("app_version", req.appVersion, 256);
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
  return { run, name, namespace, idempotencyKey };
}

async function requireVersion(j: JournalContext, start: PreparedStart): Promise<void> {
  const version = start.run.appVersion;
  if (version !== null && !(await isVersionRegistered(j.db, start.name, version))) {
    throw notFound("app_version", `no coordinator has registered version "${version}" of workflow "${start.name}"`);
  }
}

/** The key of `start` belongs to `run` of another workflow: answering with it would hand the caller a run it did not ask for. */
function keyTakenError(start: PreparedStart, run: RunRow, prefix = ""): ConnectError {
  return new ConnectError(
    `${prefix}idempotency_key: "${start.idempotencyKey}" belongs to run ${run.id} of workflow "${run.workflow_name}", not "${start.name}"`,
    Code.AlreadyExists,
  );
}

/**
 * The answer for a start once its insert is done. `inserted` undefined: the batch skipped it
 * (workflow not registered, or the key is held by `existing`, the run that holds it now).
 */
function answerStart(
  j: JournalContext,
  start: PreparedStart,
  inserted: RunRow | undefined,
  registered: boolean,
  existing: RunRow | undefined,
): StartWorkflowResponse {
  if (inserted) {
    j.metrics.runsStarted.inc({ kind: "root" });
    return create(StartWorkflowResponseSchema, { run: runToProto(inserted), existing: false });
  }
  if (!registered) throw notFound("workflow_name", `no worker has registered workflow "${start.name}"`);
  if (!existing) throw new Error("run insert returned nothing");
  if (existing.workflow_name !== start.name) throw keyTakenError(start, existing);
  return create(StartWorkflowResponseSchema, { run: runToProto(existing), existing: true });
}

export async function startWorkflow(
  j: JournalContext,
  batcher: StartBatcher,
  req: StartWorkflowRequest,
  ctx: HandlerContext,
): Promise<StartWorkflowResponse> {
  const start = prepareStart(j, req, ctx);
  await requireVersion(j, start);
  const inserted = await insertTraced(j, batcher, start.run);
  if (inserted) return answerStart(j, start, inserted, true, undefined);
  const registered = (await getWorkflowDefs(j.db, [start.name])).has(start.name);
  const existing =
    registered && start.idempotencyKey !== undefined
      ? await getRunByIdempotencyKey(j.db, start.namespace, start.idempotencyKey)
      : undefined;
  return answerStart(j, start, undefined, registered, existing);
}

export const MAX_STARTS = 1000;

/** Runs `check`, naming `prefix` in front of the field its error names. */
async function inField<T>(prefix: string, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof ConnectError) throw new ConnectError(`${prefix}.${err.rawMessage}`, err.code);
    throw err;
  }
}

/**
 * StartWorkflows: every start is checked before any is inserted (workflow registered, versions,
 * keys that belong to another workflow's run), so bad input starts nothing; then all of them go
 * into the same group commit as single starts.
 */
export async function startWorkflows(
  j: JournalContext,
  batcher: StartBatcher,
  req: StartWorkflowsRequest,
  ctx: HandlerContext,
): Promise<StartWorkflowsResponse> {
  requireCount("starts", req.starts.length, 0, MAX_STARTS);
  // One trace per run: each start is a root span of its own (linked to this call's span, which
  // belongs to the caller's trace), and the run keeps it as its traceparent.
  const call = trace.getActiveSpan();
  const callLinks = call?.isRecording() ? [{ context: call.spanContext() }] : [];
  const spans: Span[] = [];
  const starts: PreparedStart[] = [];
  try {
    for (const [i, r] of req.starts.entries()) {
      const span = tracer.startSpan(`start ${r.workflowName}`, { root: true, links: callLinks }, ROOT_CONTEXT);
      spans.push(span);
      starts.push(
        await inField(`starts[${i}]`, () =>
          context.with(trace.setSpan(ROOT_CONTEXT, span), () => prepareStart(j, r, ctx)),
        ),
      );
      span.setAttribute("weft.run.id", starts[i]?.run.id ?? "");
    }
    return await startPrepared(j, batcher, starts);
  } catch (err) {
    for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}

async function startPrepared(
  j: JournalContext,
  batcher: StartBatcher,
  starts: PreparedStart[],
): Promise<StartWorkflowsResponse> {
  const defs = await getWorkflowDefs(j.db, [...new Set(starts.map((s) => s.name))]);
  const versionChecked = new Set<string>();
  const keyOwner = new Map<string, { workflow: string; index: number }>();
  for (const [i, start] of starts.entries()) {
    const field = `starts[${i}]`;
    if (!defs.has(start.name)) {
      throw notFound(`${field}.workflow_name`, `no worker has registered workflow "${start.name}"`);
    }
    const version = `${start.name}\u0000${start.run.appVersion}`;
    if (start.run.appVersion !== null && !versionChecked.has(version)) {
      await inField(field, () => requireVersion(j, start));
      versionChecked.add(version);
    }
    if (start.idempotencyKey === undefined) continue;
    const key = keyOf(start);
    const earlier = keyOwner.get(key);
    if (earlier && earlier.workflow !== start.name) {
      throw new ConnectError(
        `${field}.idempotency_key: "${start.idempotencyKey}" is starts[${earlier.index}]'s key, for workflow "${earlier.workflow}", not "${start.name}"`,
        Code.InvalidArgument,
      );
    }
    if (!earlier) keyOwner.set(key, { workflow: start.name, index: i });
  }
  await requireKeysFree(j, starts);
  const inserted = await Promise.all(starts.map((s) => batcher.insert(s.run).then((r) => r.row)));
  // Starts the batch skipped (a key held meanwhile, or a retried call): one lookup for all.
  const holders = await runsWithKeys(
    j,
    starts.filter((_, i) => !inserted[i]),
  );
  const results: StartWorkflowResponse[] = [];
  for (const [i, start] of starts.entries()) {
    results.push(
      await inField(`starts[${i}]`, () =>
        answerStart(j, start, inserted[i], defs.has(start.name), holders.get(keyOf(start))),
      ),
    );
  }
  return create(StartWorkflowsResponseSchema, { results });
}

/** The runs holding the idempotency keys of `starts`, by keyOf. */
function runsWithKeys(j: JournalContext, starts: readonly PreparedStart[]): Promise<Map<string, RunRow>> {
  return runsByIdempotencyKeys(
    j.db,
    starts.flatMap((s) => (s.idempotencyKey === undefined ? [] : [{ namespace: s.namespace, key: s.idempotencyKey }])),
  );
}

/** Fails when an idempotency key of `starts` already belongs to a run of another workflow. */
async function requireKeysFree(j: JournalContext, starts: readonly PreparedStart[]): Promise<void> {
  const holders = await runsWithKeys(j, starts);
  for (const [i, start] of starts.entries()) {
    const run = start.idempotencyKey === undefined ? undefined : holders.get(keyOf(start));
    if (run && run.workflow_name !== start.name) throw keyTakenError(start, run, `starts[${i}].`);
  }
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
