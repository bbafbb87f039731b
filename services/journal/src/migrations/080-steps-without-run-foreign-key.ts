// Steps without a foreign key to their run. The key's check ran once per inserted step, a row
// lock (FOR KEY SHARE) on a run the inserting transaction holds FOR UPDATE already, and it queued
// an after-trigger per row: about a third of the time Postgres spent inserting steps at W0 (see
// docs/performance.md). Every path that inserts steps does so for a run it has locked and found
// running, and retention, the one path that deletes runs, deletes their steps in the same
// statement; its test checks that no step outlives its run.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE steps DROP CONSTRAINT IF EXISTS steps_run_id_fkey`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE steps ADD CONSTRAINT steps_run_id_fkey FOREIGN KEY (run_id) REFERENCES runs (id) ON DELETE CASCADE
  `.execute(db);
}
