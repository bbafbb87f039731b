// Retention: an index over finished runs by end time, so that the retention job finds its next
// batch without scanning the running runs the hot path works on (and without touching its indexes).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  // IF NOT EXISTS: on a big table an operator can build it first with CREATE INDEX CONCURRENTLY.
  await sql`
    CREATE INDEX IF NOT EXISTS runs_finished ON runs (completed_at, id) WHERE status <> 'running';
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS runs_finished;`.execute(db);
}
