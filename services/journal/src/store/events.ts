// Storage of events sent to runs, and their delivery to a waiting EVENT step.
import { sql } from "kysely";
import type { Db, EventRow } from "../db.ts";

export async function eventsOfRun(db: Db, runId: string): Promise<EventRow[]> {
  const { rows } = await sql<EventRow>`
    SELECT * FROM events WHERE run_id = ${runId} ORDER BY created_at, id`.execute(db);
  return rows;
}

/** How many events a run holds (the caller holds the run's row lock). */
export async function countEvents(db: Db, runId: string): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM events WHERE run_id = ${runId}`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** A page of a run's events, oldest first. */
export async function eventsOfRunPage(db: Db, runId: string, offset: number, limit: number): Promise<EventRow[]> {
  const { rows } = await sql<EventRow>`
    SELECT * FROM events WHERE run_id = ${runId} ORDER BY created_at, id OFFSET ${offset} LIMIT ${limit}`.execute(db);
  return rows;
}

/**
 * Inserts the event; when a running EVENT step of that name waits (lowest seq first), completes
 * it with the payload and consumes the event. Returns whether it was delivered. The caller holds
 * the run's row lock, so a concurrent turn cannot consume the same event.
 */
export async function sendEvent(
  db: Db,
  event: { id: string; runId: string; name: string; payload: Buffer | null },
): Promise<boolean> {
  const { rows } = await sql<{ seq: number }>`
    WITH wait AS (
      SELECT s.id, s.seq FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
      WHERE s.run_id = ${event.runId} AND s.kind = 'event' AND s.status = 'running' AND s.event_name = ${event.name}
      ORDER BY s.seq LIMIT 1 FOR UPDATE OF s
    ), completed AS (
      UPDATE steps SET status = 'completed', result = ${event.payload}, completed_at = now(),
                       completion_order = nextval('completion_order_seq')
      FROM wait WHERE steps.id = wait.id
      RETURNING steps.seq
    )
    INSERT INTO events (id, run_id, name, payload, consumed_by_seq)
    VALUES (${event.id}, ${event.runId}, ${event.name}, ${event.payload}, (SELECT seq FROM completed))
    RETURNING consumed_by_seq AS seq`.execute(db);
  return rows[0]?.seq !== null && rows[0]?.seq !== undefined;
}
