// Storage of steps: journal inserts, batched result recording, timers, sweeper and heartbeats.
import { sql } from "kysely";
import type { Db, RunStatusText, StepKindText, StepRow, StoredFailure } from "../db.ts";

export interface NewStepRow {
  id: string;
  runId: string;
  generation: number;
  seq: number;
  name: string;
  kind: StepKindText;
  args: Buffer | null;
  wakeAt: Date | null;
  timeoutAt: Date | null;
  eventName: string | null;
  childWorkflowName: string | null;
  childRunId: string | null;
  /** Task kinds start dispatched (dispatch 1). */
  dispatched: boolean;
  shard: number;
  traceparent: string | null;
}

const CHUNK = 2000;

/**
 * Inserts steps with ON CONFLICT DO NOTHING on (run_id, generation, seq); returns the inserted rows.
 * Postgres sends back only what it decided (id, timestamps): the rows are made from the input, so
 * the steps' args do not travel back.
 */
export async function insertSteps(db: Db, steps: readonly NewStepRow[]): Promise<StepRow[]> {
  const inserted: StepRow[] = [];
  for (let i = 0; i < steps.length; i += CHUNK) {
    const chunk = steps.slice(i, i + CHUNK);
    const col = <T>(f: (s: NewStepRow) => T) => chunk.map(f);
    const { rows } = await sql<
      Pick<StepRow, "id" | "created_at" | "dispatched_at" | "completed_at" | "completion_order">
    >`
      INSERT INTO steps (id, run_id, generation, seq, name, kind, status, args, wake_at, timeout_at, event_name,
                         child_workflow_name, child_run_id, dispatch, dispatched_at, shard, traceparent,
                         completed_at, completion_order)
      SELECT t.id, t.run_id, t.generation, t.seq, t.name, t.kind,
             CASE WHEN t.kind = 'patch' THEN 'completed' ELSE 'running' END, t.args, t.wake_at, t.timeout_at,
             t.event_name, t.child_workflow_name, t.child_run_id,
             CASE WHEN t.dispatched THEN 1 ELSE 0 END, CASE WHEN t.dispatched THEN now() END, t.shard, t.traceparent,
             -- A PATCH marker is complete as soon as it is journaled.
             CASE WHEN t.kind = 'patch' THEN now() END,
             CASE WHEN t.kind = 'patch' THEN nextval('completion_order_seq') END
      FROM unnest(${col((s) => s.id)}::uuid[], ${col((s) => s.runId)}::uuid[], ${col((s) => s.generation)}::int[],
                  ${col((s) => s.seq)}::int[], ${col((s) => s.name)}::text[], ${col((s) => s.kind)}::text[],
                  ${col((s) => s.args)}::bytea[], ${col((s) => s.wakeAt?.toISOString() ?? null)}::timestamptz[],
                  ${col((s) => s.timeoutAt?.toISOString() ?? null)}::timestamptz[], ${col((s) => s.eventName)}::text[],
                  ${col((s) => s.childWorkflowName)}::text[], ${col((s) => s.childRunId)}::uuid[],
                  ${col((s) => s.dispatched)}::bool[], ${col((s) => s.shard)}::int[], ${col((s) => s.traceparent)}::text[])
        AS t(id, run_id, generation, seq, name, kind, args, wake_at, timeout_at, event_name, child_workflow_name,
             child_run_id, dispatched, shard, traceparent)
      ON CONFLICT (run_id, generation, seq) DO NOTHING
      RETURNING id, created_at, dispatched_at, completed_at, completion_order`.execute(db);
    const decided = new Map(rows.map((r) => [r.id, r]));
    for (const step of chunk) {
      const row = decided.get(step.id);
      if (row) inserted.push(newStepRow(step, row));
    }
  }
  return inserted;
}

/** The row a fresh insert holds (the column defaults of the steps table). */
function newStepRow(
  s: NewStepRow,
  decided: Pick<StepRow, "created_at" | "dispatched_at" | "completed_at" | "completion_order">,
): StepRow {
  return {
    id: s.id,
    run_id: s.runId,
    generation: s.generation,
    seq: s.seq,
    name: s.name,
    kind: s.kind,
    status: s.kind === "patch" ? "completed" : "running",
    args: s.args,
    result: null,
    error: null,
    attempt: 0,
    wake_at: s.wakeAt,
    timeout_at: s.timeoutAt,
    event_name: s.eventName,
    child_workflow_name: s.childWorkflowName,
    child_run_id: s.childRunId,
    completion_order: decided.completion_order,
    dispatch: s.dispatched ? 1 : 0,
    dispatched_at: decided.dispatched_at,
    heartbeat_at: null,
    shard: s.shard,
    traceparent: s.traceparent,
    delivered: false,
    created_at: decided.created_at,
    started_at: null,
    completed_at: decided.completed_at,
  };
}

/** Steps of the runs' current generations, ordered by run then seq. */
export async function currentSteps(db: Db, runIds: readonly string[]): Promise<StepRow[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<StepRow>`
    SELECT s.* FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
    WHERE s.run_id = ANY(${[...runIds]}::uuid[])
    ORDER BY s.run_id, s.seq`.execute(db);
  return rows;
}

/** What replay reads of a journaled step: the columns a claim carries (claimStepToProto). */
export type ClaimStepRow = Pick<
  StepRow,
  | "id"
  | "run_id"
  | "generation"
  | "seq"
  | "name"
  | "kind"
  | "status"
  | "result"
  | "error"
  | "completion_order"
  | "completed_at"
  | "child_run_id"
>;

const CLAIM_STEP_COLUMNS = sql.raw(
  "s.id, s.run_id, s.generation, s.seq, s.name, s.kind, s.status, s.result, s.error, s.completion_order, s.completed_at, s.child_run_id",
);

/**
 * What claims carry, in one statement: marks the outcomes of the runs' current generations that
 * no claim delivered yet as delivered and returns them; for `fullRunIds` (first claims) also the
 * rest of the journal (running steps and outcomes delivered before); and `recorded`, steps this
 * transaction recorded as delivered already (of runs not in `fullRunIds`, which read them), as
 * recordResults returned them. Only the columns replay reads come back (no args, timestamps or
 * trace context of the step).
 */
export async function takeUndelivered(
  db: Db,
  runIds: readonly string[],
  fullRunIds: readonly string[] = [],
  recorded: readonly ClaimStepRow[] = [],
): Promise<ClaimStepRow[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<ClaimStepRow>`
    WITH taken AS (
      UPDATE steps s SET delivered = true
      FROM runs r
      WHERE s.run_id = ANY(${[...runIds]}::uuid[]) AND s.status <> 'running' AND NOT s.delivered
        AND r.id = ANY(${[...runIds]}::uuid[]) AND r.id = s.run_id AND r.generation = s.generation
      RETURNING ${CLAIM_STEP_COLUMNS}
    )
    SELECT * FROM taken
    UNION ALL
    SELECT ${CLAIM_STEP_COLUMNS} FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
    WHERE s.run_id = ANY(${[...fullRunIds]}::uuid[]) AND r.id = ANY(${[...fullRunIds]}::uuid[])
      AND (s.status = 'running' OR s.delivered)`.execute(db);
  rows.push(...recorded);
  return rows.sort((a, b) => (a.run_id < b.run_id ? -1 : a.run_id > b.run_id ? 1 : a.seq - b.seq));
}

/** Every step of a run, all generations. */
export async function stepsOfRun(db: Db, runId: string): Promise<StepRow[]> {
  const { rows } = await sql<StepRow>`
    SELECT * FROM steps WHERE run_id = ${runId} ORDER BY generation, seq`.execute(db);
  return rows;
}

/** A page of a run's steps, all generations, in journal order. */
export async function stepsOfRunPage(db: Db, runId: string, offset: number, limit: number): Promise<StepRow[]> {
  const { rows } = await sql<StepRow>`
    SELECT * FROM steps WHERE run_id = ${runId} ORDER BY generation, seq OFFSET ${offset} LIMIT ${limit}`.execute(db);
  return rows;
}

/** Completes due SLEEP steps among `ids` (those inserted by a turn); returns their run ids. */
export async function completeDueSleeps(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ run_id: string }>`
    UPDATE steps SET status = 'completed', completed_at = now(),
                     completion_order = nextval('completion_order_seq')
    WHERE id = ANY(${[...ids]}::uuid[]) AND status = 'running' AND kind = 'sleep' AND wake_at <= now()
    RETURNING run_id`.execute(db);
  return rows.map((r) => r.run_id);
}

/**
 * Gives each newly journaled EVENT wait among `ids` the oldest unconsumed event of its name (the
 * n-th wait of a name in a run gets the n-th event), consuming it. Returns the run ids of the
 * waits that completed.
 */
export async function consumeWaitingEvents(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ run_id: string }>`
    WITH waits AS (
      SELECT id, run_id, seq, event_name,
             row_number() OVER (PARTITION BY run_id, event_name ORDER BY seq) AS rn
      FROM steps WHERE id = ANY(${[...ids]}::uuid[]) AND kind = 'event' AND status = 'running'
    ), candidates AS (
      SELECT e.id, e.run_id, e.name, e.payload,
             row_number() OVER (PARTITION BY e.run_id, e.name ORDER BY e.created_at, e.id) AS rn
      FROM events e
      WHERE e.consumed_by_seq IS NULL AND e.run_id = ANY(ARRAY(SELECT run_id FROM waits))
        AND (e.run_id, e.name) IN (SELECT run_id, event_name FROM waits)
    ), pairs AS (
      SELECT w.id AS step_id, w.seq, c.id AS event_id, c.payload
      FROM waits w JOIN candidates c ON c.run_id = w.run_id AND c.name = w.event_name AND c.rn = w.rn
    ), consumed AS (
      UPDATE events SET consumed_by_seq = p.seq FROM pairs p
      WHERE events.id = p.event_id AND events.id = ANY(ARRAY(SELECT event_id FROM pairs))
      RETURNING events.id
    )
    UPDATE steps SET status = 'completed', result = p.payload, completed_at = now(),
                     completion_order = nextval('completion_order_seq')
    FROM pairs p WHERE steps.id = p.step_id AND steps.id = ANY(${[...ids]}::uuid[])
    RETURNING steps.run_id`.execute(db);
  return rows.map((r) => r.run_id);
}

export interface ResultToRecord {
  stepId: string;
  generation: number;
  status: "completed" | "failed";
  result: Buffer | null;
  error: StoredFailure | null;
  attempt: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * One statement: applies the results whose step is running in the same generation, and returns
 * the steps it changed. The outcomes of `deliveredRuns` (runs this transaction means to claim)
 * are recorded as delivered already: their claim carries these rows (takeUndelivered's recorded), so
 * no second row version marks them (see markUndelivered for a run the transaction did not claim after all).
 */
export async function recordResults(
  db: Db,
  results: readonly ResultToRecord[],
  deliveredRuns: readonly string[] = [],
): Promise<RecordedStep[]> {
  if (results.length === 0) return [];
  const col = <T>(f: (r: ResultToRecord) => T) => results.map(f);
  const { rows } = await sql<RecordedStep>`
    UPDATE steps AS s SET status = t.status, result = t.result, error = t.error, attempt = t.attempt,
                          started_at = coalesce(t.started_at, s.started_at),
                          completed_at = coalesce(t.finished_at, now()),
                          completion_order = nextval('completion_order_seq'),
                          delivered = s.run_id = ANY(${[...deliveredRuns]}::uuid[])
    FROM unnest(${col((r) => r.stepId)}::uuid[], ${col((r) => r.generation)}::int[], ${col((r) => r.status)}::text[],
                ${col((r) => r.result)}::bytea[], ${col((r) => (r.error ? JSON.stringify(r.error) : null))}::jsonb[],
                ${col((r) => r.attempt)}::int[], ${col((r) => r.startedAt?.toISOString() ?? null)}::timestamptz[],
                ${col((r) => r.finishedAt?.toISOString() ?? null)}::timestamptz[])
      AS t(id, generation, status, result, error, attempt, started_at, finished_at)
    WHERE s.id = t.id AND s.id = ANY(${col((r) => r.stepId)}::uuid[])
      AND s.status = 'running' AND s.generation = t.generation
    RETURNING ${CLAIM_STEP_COLUMNS}, s.delivered`.execute(db);
  return rows;
}

/** A step recordResults changed, with what a claim carries of it (its claim reads no row again). */
export type RecordedStep = ClaimStepRow & Pick<StepRow, "delivered">;

/** Outcomes recorded as delivered whose run was not claimed after all: left for the next claim. */
export async function markUndelivered(db: Db, stepIds: readonly string[]): Promise<void> {
  if (stepIds.length === 0) return;
  await sql`UPDATE steps SET delivered = false WHERE id = ANY(${[...stepIds]}::uuid[])`.execute(db);
}

export async function stepStates(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, { status: RunStatusText; generation: number }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{ id: string; status: RunStatusText; generation: number }>`
    SELECT id, status, generation FROM steps WHERE id = ANY(${[...ids]}::uuid[])`.execute(db);
  return new Map(rows.map((r) => [r.id, r]));
}

/** Marks running steps as alive; returns the ids that are still running. */
export async function heartbeatSteps(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: string }>`
    UPDATE steps SET heartbeat_at = now() WHERE id = ANY(${[...ids]}::uuid[]) AND status = 'running'
    RETURNING id`.execute(db);
  return rows.map((r) => r.id);
}

export type StepWithWorkflow = StepRow & { workflow_name: string };

/** Redispatches (dispatch + 1) task steps whose task has shown no sign of life for `timeoutMs`. */
export async function redispatchStale(
  db: Db,
  olderThan: { timeoutMs: number } | { before: string },
  limit: number,
): Promise<StepWithWorkflow[]> {
  const cutoff =
    "before" in olderThan
      ? sql`${olderThan.before}::timestamptz`
      : sql`now() - ${olderThan.timeoutMs} * interval '1 millisecond'`;
  const { rows } = await sql<StepWithWorkflow>`
    /* sweeper */ WITH stale AS (
      SELECT id FROM steps
      WHERE status = 'running' AND kind IN ('query', 'mutation', 'action', 'on_complete')
        AND coalesce(heartbeat_at, dispatched_at) < ${cutoff}
      ORDER BY coalesce(heartbeat_at, dispatched_at)
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE steps SET dispatch = dispatch + 1, dispatched_at = now(), heartbeat_at = NULL
    FROM stale, runs
    WHERE steps.id = stale.id AND runs.id = steps.run_id
    RETURNING steps.*, runs.workflow_name`.execute(db);
  return rows;
}

/**
 * Locks (run first, in id order, skipping runs another transaction holds) the runs that have a
 * due timer: a SLEEP past its wake_at or an EVENT wait past its timeout. Returns their ids.
 */
export async function lockRunsWithDueTimers(db: Db, limit: number): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    /* timers */ SELECT id FROM runs
    WHERE status = 'running' AND id IN (
      SELECT run_id FROM steps
      WHERE status = 'running' AND ((kind = 'sleep' AND wake_at <= now()) OR (kind = 'event' AND timeout_at <= now()))
      LIMIT ${limit})
    ORDER BY id FOR UPDATE SKIP LOCKED`.execute(db);
  return rows.map((r) => r.id);
}

/** Completes the due SLEEP steps of the given (locked) runs; returns their run ids. */
export async function fireDueSleeps(db: Db, runIds: readonly string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<{ run_id: string }>`
    /* timers */ UPDATE steps SET status = 'completed', completed_at = now(), completion_order = nextval('completion_order_seq')
    WHERE run_id = ANY(${[...runIds]}::uuid[]) AND status = 'running' AND kind = 'sleep' AND wake_at <= now()
    RETURNING run_id`.execute(db);
  return rows.map((r) => r.run_id);
}

/** Fails the EVENT waits of the given (locked) runs that are past their timeout with TimeoutError. */
export async function failTimedOutEvents(db: Db, runIds: readonly string[]): Promise<string[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<{ run_id: string }>`
    /* timers */ UPDATE steps SET status = 'failed', completed_at = now(), completion_order = nextval('completion_order_seq'),
                     error = jsonb_build_object('name', 'TimeoutError',
                       'message', format('event "%s" was not received before %s', event_name, timeout_at))
    WHERE run_id = ANY(${[...runIds]}::uuid[]) AND status = 'running' AND kind = 'event' AND timeout_at <= now()
    RETURNING run_id`.execute(db);
  return rows.map((r) => r.run_id);
}

/** The earliest pending timer (sleep wake-up or event timeout), if any. */
export async function nextTimerDue(db: Db): Promise<Date | null> {
  const { rows } = await sql<{ due: Date | null }>`
    /* timers */ SELECT least(
      (SELECT min(wake_at) FROM steps WHERE status = 'running' AND kind = 'sleep'),
      (SELECT min(timeout_at) FROM steps WHERE status = 'running' AND kind = 'event' AND timeout_at IS NOT NULL)
    ) AS due`.execute(db);
  return rows[0]?.due ?? null;
}
