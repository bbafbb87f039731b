// Reset of runs to a new generation: the journal before a step is copied into the new generation
// (outcomes kept; steps still running there are redispatched), everything of the old generation
// still running is canceled (so its late results are stale), child runs of discarded steps are
// canceled, and events consumed by discarded waits can be consumed again. The run's claim count
// starts over, so its next claim carries the new generation's whole journal (the copies are not
// yet delivered). Multi-row statements, for one run or a page of RetryFailed.
import { sql } from "kysely";
import type { Db, RunRow, RunStatusText, StepKindText, StepRow } from "../db.ts";
import { uuidv7 } from "../ids.ts";
import { endRuns, type RunEndOutcome } from "./run-end.ts";
import { listingConditions } from "./runs.ts";
import type { StepWithWorkflow } from "./steps.ts";

export interface ResetSpec {
  runId: string;
  /** First seq that runs again; steps 1..fromSeq-1 of the current generation are kept. */
  fromSeq: number;
  /** Move the run to this version; null keeps its version. */
  appVersion: string | null;
}

export interface ResetOutcome {
  /** The runs as reset (running, new generation). */
  runs: RunRow[];
  /** Kept steps still running whose tasks must be published again (new step ids). */
  tasks: StepWithWorkflow[];
  /** Kept timers (sleep, event timeout) still pending: the earliest. */
  earliestTimer: Date | null;
  /** Child runs of discarded CHILD steps, canceled. */
  children: RunEndOutcome;
}

const TASK_KINDS = "('query', 'mutation', 'action')";

/** Resets the given runs, which the caller has locked (lockRuns) in this transaction. */
export async function resetRuns(db: Db, specs: readonly ResetSpec[]): Promise<ResetOutcome> {
  const ids = specs.map((s) => s.runId);
  const froms = specs.map((s) => s.fromSeq);
  const { rows: kept } = await sql<{ id: string }>`
    SELECT s.id FROM unnest(${ids}::uuid[], ${froms}::int[]) AS t(id, from_seq)
    JOIN runs r ON r.id = t.id
    JOIN steps s ON s.run_id = r.id AND s.generation = r.generation AND s.seq >= 1 AND s.seq < t.from_seq`.execute(db);

  const { rows: runs } = await sql<RunRow>`
    UPDATE runs SET generation = generation + 1, status = 'running', ready = true, ready_at = now(),
                    result = NULL, error = NULL, completed_at = NULL,
                    lease_owner = NULL, lease_expires = NULL, lease_token = lease_token + 1, claims = 0,
                    app_version = coalesce(t.app_version, runs.app_version), updated_at = now()
    FROM unnest(${ids}::uuid[], ${specs.map((s) => s.appVersion)}::text[]) AS t(id, app_version)
    WHERE runs.id = t.id
    RETURNING runs.*`.execute(db);

  // The kept journal, copied into the new generation with new step ids. Task steps still running
  // get a fresh dispatch (their old tasks carry the old generation and will be stale).
  const { rows: copies } = await sql<StepRow>`
    INSERT INTO steps (id, run_id, generation, seq, name, kind, status, args, result, error, attempt, wake_at,
                       timeout_at, event_name, child_workflow_name, child_run_id, completion_order, dispatch,
                       dispatched_at, heartbeat_at, shard, traceparent, created_at, started_at, completed_at)
    SELECT m.new_id, s.run_id, s.generation + 1, s.seq, s.name, s.kind, s.status, s.args, s.result, s.error,
           s.attempt, s.wake_at, s.timeout_at, s.event_name, s.child_workflow_name, s.child_run_id,
           s.completion_order,
           CASE WHEN s.status = 'running' AND s.kind IN ${sql.raw(TASK_KINDS)} THEN 1 ELSE s.dispatch END,
           CASE WHEN s.status = 'running' AND s.kind IN ${sql.raw(TASK_KINDS)} THEN now() ELSE s.dispatched_at END,
           NULL, s.shard, s.traceparent, s.created_at, s.started_at, s.completed_at
    FROM unnest(${kept.map((k) => k.id)}::uuid[], ${kept.map(() => uuidv7())}::uuid[]) AS m(old_id, new_id)
    JOIN steps s ON s.id = m.old_id
    RETURNING *`.execute(db);

  // Everything of older generations still running is over: late results are stale, timers off.
  const { rows: canceled } = await sql<{ run_id: string; kind: StepKindText; child_run_id: string | null }>`
    UPDATE steps SET status = 'canceled', completed_at = now()
    FROM unnest(${runs.map((r) => r.id)}::uuid[], ${runs.map((r) => r.generation)}::int[]) AS t(id, generation)
    WHERE steps.run_id = t.id AND steps.generation < t.generation AND steps.status = 'running'
    RETURNING steps.run_id, steps.kind, steps.child_run_id`.execute(db);

  // Waits that run again may consume the events their discarded predecessors consumed.
  await sql`
    UPDATE events SET consumed_by_seq = NULL
    FROM unnest(${ids}::uuid[], ${froms}::int[]) AS t(id, from_seq)
    WHERE events.run_id = t.id AND events.consumed_by_seq >= t.from_seq`.execute(db);

  // A child whose CHILD step was kept (still running) stays linked; the others are canceled.
  const keptChildren = new Set(copies.flatMap((c) => (c.child_run_id ? [c.child_run_id] : [])));
  const children = await endRuns(
    db,
    canceled
      .filter((s) => s.kind === "child" && s.child_run_id !== null && !keptChildren.has(s.child_run_id))
      .map((s) => ({
        runId: s.child_run_id as string,
        status: "canceled" as const,
        result: null,
        error: { name: "CanceledError", message: `parent run ${s.run_id} was reset` },
      })),
  );

  const workflowOf = new Map(runs.map((r) => [r.id, r.workflow_name]));
  const tasks = copies
    .filter((c) => c.status === "running" && (c.kind === "query" || c.kind === "mutation" || c.kind === "action"))
    .map((c) => ({ ...c, workflow_name: workflowOf.get(c.run_id) ?? "" }));
  let earliestTimer: Date | null = null;
  for (const c of copies) {
    if (c.status !== "running") continue;
    const due = c.kind === "sleep" ? c.wake_at : c.kind === "event" ? c.timeout_at : null;
    if (due && (!earliestTimer || due < earliestTimer)) earliestTimer = due;
  }
  return { runs, tasks, earliestTimer, children };
}

export interface JournalExtent {
  /** Highest seq of the current generation (0 without steps). */
  maxSeq: number;
  /** Lowest seq of a failed step of the current generation, if any. */
  firstFailedSeq: number | null;
}

/** Per run: the extent of its current generation's journal. */
export async function journalExtents(db: Db, runIds: readonly string[]): Promise<Map<string, JournalExtent>> {
  if (runIds.length === 0) return new Map();
  const { rows } = await sql<{ run_id: string; max_seq: number | null; first_failed: number | null }>`
    SELECT r.id AS run_id, max(s.seq) AS max_seq, min(s.seq) FILTER (WHERE s.status = 'failed') AS first_failed
    FROM runs r LEFT JOIN steps s ON s.run_id = r.id AND s.generation = r.generation AND s.seq >= 1
    WHERE r.id = ANY(${[...runIds]}::uuid[])
    GROUP BY r.id`.execute(db);
  return new Map(rows.map((r) => [r.run_id, { maxSeq: r.max_seq ?? 0, firstFailedSeq: r.first_failed }]));
}

/** The seq of the first step of the run's current generation named `name`. */
export async function firstSeqNamed(db: Db, runId: string, name: string): Promise<number | undefined> {
  const { rows } = await sql<{ seq: number }>`
    SELECT min(s.seq) AS seq FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
    WHERE s.run_id = ${runId} AND s.name = ${name} AND s.seq >= 1`.execute(db);
  return rows[0]?.seq ?? undefined;
}

export interface FailedRunFilter {
  /** Tenancy: only this namespace's runs (undefined: every namespace). */
  namespace?: string;
  workflowName?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  errorContains?: string;
  /** Keyset cursor: runs strictly older than (createdAt, id). */
  before?: { createdAt: string; id: string };
}

/** Conditions on the listing (`l`) and the run (`r`) of failed runs matching the filter. */
function failedConditions(f: FailedRunFilter) {
  const conditions = listingConditions(f);
  conditions.push(sql`r.status = ${"failed" satisfies RunStatusText}`);
  if (f.workflowName !== undefined) conditions.push(sql`r.workflow_name = ${f.workflowName}`);
  if (f.errorContains !== undefined) {
    conditions.push(sql`strpos(lower(r.error->>'message'), lower(${f.errorContains})) > 0`);
  }
  return sql.join(conditions, sql` AND `);
}

/** Failed runs matching the filter, newest first by (created_at, id), in the listing's order. */
export async function failedRuns(
  db: Db,
  f: FailedRunFilter,
  limit: number,
): Promise<{ id: string; created_text: string }[]> {
  const { rows } = await sql<{ id: string; created_text: string }>`
    SELECT r.id, r.created_at::text AS created_text FROM run_listing l JOIN runs r ON r.id = l.id
    WHERE ${failedConditions(f)}
    ORDER BY l.created_at DESC, l.id DESC LIMIT ${limit}`.execute(db);
  return rows;
}

export async function countFailedRuns(db: Db, f: FailedRunFilter): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    SELECT count(*) AS n FROM run_listing l JOIN runs r ON r.id = l.id WHERE ${failedConditions(f)}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}
