// Storage side of retention: deletes one batch of finished runs past the retention age, with their
// steps and events, in one statement; and takes the cluster-wide retention turn (advisory lock).
import { sql } from "kysely";
import type { Db } from "../db.ts";

/** Advisory-lock key of the retention job (per database: Postgres scopes advisory locks by database). */
export const RETENTION_LOCK_KEY = 0x77656674; // "weft"

export interface DeletedCounts {
  runs: number;
  steps: number;
  events: number;
}

/**
 * Deletes up to `batch` finished runs whose end is older than `ageMs`, oldest first, with their
 * steps and events. Rows another transaction holds are skipped (SKIP LOCKED), so the job never
 * waits on the hot path. Steps and events are deleted by set: steps have no foreign key to their
 * run (migration 080), so this is what deletes them; events' cascade then finds nothing left.
 */
export async function deleteFinishedRuns(db: Db, ageMs: number, batch: number): Promise<DeletedCounts> {
  const { rows } = await sql<{ runs: number; steps: number; events: number }>`
    /* retention */
    WITH victims AS (
      SELECT id FROM runs
      WHERE status <> 'running' AND completed_at < now() - ${ageMs} * interval '1 millisecond'
      ORDER BY completed_at
      LIMIT ${batch}
      FOR UPDATE SKIP LOCKED
    ), s AS (
      DELETE FROM steps WHERE run_id IN (SELECT id FROM victims) RETURNING 1
    ), e AS (
      DELETE FROM events WHERE run_id IN (SELECT id FROM victims) RETURNING 1
    ), r AS (
      DELETE FROM runs WHERE id IN (SELECT id FROM victims) RETURNING 1
    )
    SELECT (SELECT count(*) FROM r)::int AS runs, (SELECT count(*) FROM s)::int AS steps,
           (SELECT count(*) FROM e)::int AS events`.execute(db);
  return rows[0] ?? { runs: 0, steps: 0, events: 0 };
}

/**
 * Runs `work` inside a transaction that holds the retention advisory lock, or returns undefined at
 * once when another journal replica holds it. The lock is transaction-scoped: a replica that dies
 * mid-batch releases it with its connection.
 */
export async function withRetentionTurn<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T | undefined> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ ok: boolean }>`
      /* retention */ SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) AS ok`.execute(trx);
    if (!rows[0]?.ok) return undefined;
    return work(trx);
  });
}
