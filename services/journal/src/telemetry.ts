// The journal's spans: Postgres transactions and statements (CLIENT spans with the database
// semantic conventions), and the completion of runs (a `run <status>` span in the run's trace).
// Database spans are made only under a recording span (an RPC): the background loops' polling
// would otherwise start a trace every pass.
import type { Attributes } from "@opentelemetry/api";
import { context, contextFromTraceparent, type Link, SpanKind, SpanStatusCode, trace } from "@weft/telemetry";
import type { BatchedMethod, JournalMetrics } from "./metrics.ts";
import type { EndedRun } from "./store/run-end.ts";

export const tracer = trace.getTracer("weft.journal");

/** Attributes every database span carries: the system, the database and the server. */
export function databaseAttributes(databaseUrl: string): Attributes {
  const attributes: Attributes = { "db.system.name": "postgresql" };
  try {
    const url = new URL(databaseUrl);
    const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (name) attributes["db.namespace"] = name;
    if (url.hostname) attributes["server.address"] = url.hostname;
    attributes["server.port"] = url.port ? Number(url.port) : 5432;
  } catch {
    // A connection string that is not a URL (key=value form): the system alone.
  }
  return attributes;
}

/** The size of a batched call: a histogram sample and `weft.batch.size` on the call's span. */
export function observeBatch(metrics: JournalMetrics, method: BatchedMethod, size: number): void {
  metrics.batchSize[method].observe(size);
  trace.getActiveSpan()?.setAttribute("weft.batch.size", size);
}

function tracing(): boolean {
  return trace.getActiveSpan()?.isRecording() ?? false;
}

/**
 * Runs `fn` (a transaction, or a short series of statements) in a CLIENT span
 * `transaction <name>` when traced, and times it in weft_journal_db_transaction_seconds.
 */
export async function inDatabaseSpan<T>(
  j: { dbAttributes: Attributes; metrics: JournalMetrics },
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  const stop = j.metrics.transactionSeconds.startTimer({ name });
  try {
    if (!tracing()) return await fn();
    const summary = `transaction ${name}`;
    const span = tracer.startSpan(summary, {
      kind: SpanKind.CLIENT,
      attributes: { ...j.dbAttributes, "db.operation.name": "TRANSACTION", "db.query.summary": summary },
    });
    try {
      return await context.with(trace.setSpan(context.active(), span), fn);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  } finally {
    stop();
  }
}

interface StatementShape {
  operation: string;
  collection: string | undefined;
  summary: string;
}

const shapes = new Map<string, StatementShape>();

/** `UPDATE runs`, `SELECT steps`, ... from the statement text (cached: the journal's statements are few). */
export function statementShape(text: string): StatementShape {
  const cached = shapes.get(text);
  if (cached) return cached;
  const body = text.replace(/\/\*[\s\S]*?\*\//g, " ").trim();
  const first = (/^\w+/.exec(body)?.[0] ?? "QUERY").toUpperCase();
  const main = first === "WITH" ? mainStatementAfterCtes(body) : body;
  const operation = first === "WITH" ? (/^\w+/.exec(main)?.[0]?.toUpperCase() ?? "WITH") : first;
  const named =
    /^(?:update\s+|insert\s+into\s+|delete\s+from\s+)"?(\w+)/i.exec(main)?.[1] ?? /\bfrom\s+"?(\w+)/i.exec(main)?.[1];
  const collection = named === undefined || named.toLowerCase() === "unnest" ? undefined : named;
  const shape = { operation, collection, summary: collection ? `${operation} ${collection}` : operation };
  if (shapes.size < 1000) shapes.set(text, shape);
  return shape;
}

/** The statement that follows the common table expressions of `WITH a AS (...), b AS (...) <main>`. */
function mainStatementAfterCtes(body: string): string {
  let depth = 0;
  let closed = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth === 0) closed = true;
    } else if (closed && depth === 0 && /\w/.test(c ?? "") && !/\w/.test(body[i - 1] ?? "")) {
      const rest = body.slice(i);
      if (/^(select|insert|update|delete)\b/i.test(rest)) return rest;
    }
  }
  return body;
}

const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback)\b/i;

/** A CLIENT span for one statement that has just run (called from kysely's log hook). */
export function recordStatementSpan(attributes: Attributes, text: string, durationMs: number, error?: unknown): void {
  if (!tracing() || TRANSACTION_CONTROL.test(text)) return;
  const shape = statementShape(text);
  const end = Date.now();
  const span = tracer.startSpan(shape.summary, {
    kind: SpanKind.CLIENT,
    startTime: end - durationMs,
    attributes: {
      ...attributes,
      "db.operation.name": shape.operation,
      "db.query.summary": shape.summary,
      "db.query.text": text,
      ...(shape.collection ? { "db.collection.name": shape.collection } : {}),
    },
  });
  if (error !== undefined) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") span.setAttribute("db.response.status_code", code);
    span.recordException(error as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
  }
  span.end(end);
}

/**
 * Marks the end of runs in their traces: a `run <status>` span parented on the run's persisted
 * trace context (linked to the call that ended it), and counts them.
 */
export function recordRunEnds(metrics: JournalMetrics, ended: readonly EndedRun[]): void {
  if (ended.length === 0) return;
  const cause = trace.getActiveSpan()?.spanContext();
  const links: Link[] = cause && trace.isSpanContextValid(cause) ? [{ context: cause }] : [];
  for (const run of ended) {
    metrics.runsEnded.inc({ status: run.status });
    if (!run.traceparent) continue;
    const span = tracer.startSpan(
      `run ${run.status}`,
      {
        kind: SpanKind.INTERNAL,
        links,
        attributes: {
          "weft.run.id": run.id,
          "weft.workflow.name": run.workflow_name,
          "weft.run.status": run.status,
          ...(run.parent_run_id ? { "weft.run.parent_id": run.parent_run_id } : {}),
        },
      },
      contextFromTraceparent(run.traceparent),
    );
    if (run.status === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: run.error?.message ?? "" });
    span.end();
  }
}
