// Ending runs (completion, failure, cancel) and what follows from it, batched by tree level:
// running steps are canceled, running child runs are canceled in turn, a parent's CHILD step gets
// the outcome (and the parent becomes ready), and workflows with an on-complete hook get their
// ON_COMPLETE step (seq 0) to dispatch.
import { sql } from "kysely";
import type { Db, RunRow, StepKindText, StoredFailure } from "../db.ts";
import { uuidv7 } from "../ids.ts";
import { markReady } from "./runs.ts";
import type { StepWithWorkflow } from "./steps.ts";

export interface RunEnding {
  runId: string;
  status: "completed" | "failed" | "canceled";
  result: Buffer | null;
  error: StoredFailure | null;
}

/**
 * What the end of a run returns of it: what its parent's step, its ON_COMPLETE hook, its end span
 * and metrics read (not its args, keys, lease or timestamps).
 */
export type EndedRun = Pick<
  RunRow,
  | "id"
  | "workflow_name"
  | "status"
  | "result"
  | "error"
  | "parent_run_id"
  | "parent_seq"
  | "generation"
  | "shard"
  | "traceparent"
>;

export interface RunEndOutcome {
  ended: EndedRun[];
  /** ON_COMPLETE steps to publish after the commit. */
  hookTasks: StepWithWorkflow[];
  /** Parents made ready by a child's outcome. */
  readyRuns: string[];
}

export async function endRuns(db: Db, endings: readonly RunEnding[]): Promise<RunEndOutcome> {
  const outcome: RunEndOutcome = { ended: [], hookTasks: [], readyRuns: [] };
  let pending = endings;
  // Each round ends one level of the run tree; the depth bound guards against a corrupt cycle.
  for (let depth = 0; pending.length > 0 && depth < 100; depth++) {
    const col = <T>(f: (e: RunEnding) => T) => pending.map(f);
    const { rows: ended } = await sql<EndedRun>`
      UPDATE runs SET status = t.status, result = t.result, error = t.error, completed_at = now(),
                      updated_at = now(), ready = false, lease_owner = NULL, lease_expires = NULL
      FROM unnest(${col((e) => e.runId)}::uuid[], ${col((e) => e.status)}::text[], ${col((e) => e.result)}::bytea[],
                  ${col((e) => (e.error ? JSON.stringify(e.error) : null))}::jsonb[]) AS t(id, status, result, error)
      WHERE runs.id = t.id AND runs.id = ANY(${col((e) => e.runId)}::uuid[]) AND runs.status = 'running'
      RETURNING runs.id, runs.workflow_name, runs.status, runs.result, runs.error, runs.parent_run_id, runs.parent_seq,
                runs.generation, runs.shard, runs.traceparent`.execute(db);
    if (ended.length === 0) break;
    outcome.ended.push(...ended);
    const endedIds = ended.map((r) => r.id);

    const { rows: canceledSteps } = await sql<{ run_id: string; kind: StepKindText; child_run_id: string | null }>`
      UPDATE steps SET status = 'canceled', completed_at = now()
      WHERE run_id = ANY(${endedIds}::uuid[]) AND status = 'running'
      RETURNING run_id, kind, child_run_id`.execute(db);

    const children = ended.filter((r) => r.parent_run_id !== null && r.parent_seq !== null);
    if (children.length > 0) {
      const c = <T>(f: (r: EndedRun) => T) => children.map(f);
      const { rows: parentSteps } = await sql<{ run_id: string }>`
        UPDATE steps SET status = CASE WHEN t.status = 'completed' THEN 'completed' ELSE 'failed' END,
                         result = t.result, error = t.error, completed_at = now(),
                         completion_order = nextval('completion_order_seq')
        FROM unnest(${c((r) => r.parent_run_id)}::uuid[], ${c((r) => r.parent_seq)}::int[], ${c((r) => r.id)}::uuid[],
                    ${c((r) => r.status)}::text[], ${c((r) => r.result)}::bytea[],
                    ${c((r) => (r.error ? JSON.stringify(r.error) : null))}::jsonb[])
          AS t(parent_id, seq, child_id, status, result, error)
        WHERE steps.run_id = t.parent_id AND steps.run_id = ANY(${c((r) => r.parent_run_id)}::uuid[])
          AND steps.seq = t.seq AND steps.child_run_id = t.child_id
          AND steps.kind = 'child' AND steps.status = 'running'
        RETURNING steps.run_id`.execute(db);
      outcome.readyRuns.push(
        ...(await markReady(
          db,
          parentSteps.map((s) => s.run_id),
        )),
      );
    }

    outcome.hookTasks.push(...(await insertOnCompleteSteps(db, ended)));

    const parentError = (runId: string): StoredFailure => ({
      name: "CanceledError",
      message: `parent run ${runId} ended`,
    });
    pending = canceledSteps
      .filter((s) => s.kind === "child" && s.child_run_id !== null)
      .map((s) => ({
        runId: s.child_run_id as string,
        status: "canceled",
        result: null,
        error: parentError(s.run_id),
      }));
  }
  return outcome;
}

async function insertOnCompleteSteps(db: Db, ended: readonly EndedRun[]): Promise<StepWithWorkflow[]> {
  const { rows: defs } = await sql<{ name: string }>`
    SELECT name FROM workflow_defs
    WHERE has_on_complete AND name = ANY(${[...new Set(ended.map((r) => r.workflow_name))]}::text[])`.execute(db);
  const hooked = new Set(defs.map((d) => d.name));
  const runs = ended.filter((r) => hooked.has(r.workflow_name));
  if (runs.length === 0) return [];
  const args = runs.map((r) =>
    Buffer.from(
      JSON.stringify({
        runId: r.id,
        workflowName: r.workflow_name,
        status: r.status,
        result: r.result && r.result.length > 0 ? JSON.parse(r.result.toString("utf8")) : null,
        error: r.error,
      }),
    ),
  );
  const { rows } = await sql<StepWithWorkflow>`
    INSERT INTO steps (id, run_id, generation, seq, name, kind, status, args, dispatch, dispatched_at, shard, traceparent)
    SELECT t.id, t.run_id, t.generation, 0, 'onComplete', 'on_complete', 'running', t.args, 1, now(), t.shard, t.traceparent
    FROM unnest(${runs.map(() => uuidv7())}::uuid[], ${runs.map((r) => r.id)}::uuid[], ${runs.map((r) => r.generation)}::int[],
                ${args}::bytea[], ${runs.map((r) => r.shard)}::int[], ${runs.map((r) => r.traceparent)}::text[])
      AS t(id, run_id, generation, args, shard, traceparent)
    ON CONFLICT (run_id, generation, seq) DO NOTHING
    RETURNING *`.execute(db);
  const names = new Map(runs.map((r) => [r.id, r.workflow_name]));
  return rows.map((s) => ({ ...s, workflow_name: names.get(s.run_id) ?? "" }));
}
