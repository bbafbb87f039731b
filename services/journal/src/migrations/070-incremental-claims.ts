// Incremental claims: a run counts the claims of its current generation, and a step remembers
// whether a claim has delivered its outcome. A claim then carries only the outcomes no earlier
// claim delivered, so a coordinator whose live execution took the previous claim receives O(new
// outcomes) per turn instead of the whole journal (which made a long run's cost grow with its
// length squared).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE runs ADD COLUMN claims int NOT NULL DEFAULT 0;
    ALTER TABLE steps ADD COLUMN delivered boolean NOT NULL DEFAULT false;
    -- Claims: a run's outcomes not yet delivered.
    CREATE INDEX steps_undelivered ON steps (run_id) WHERE status <> 'running' AND NOT delivered;
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP INDEX steps_undelivered;
    ALTER TABLE steps DROP COLUMN delivered;
    ALTER TABLE runs DROP COLUMN claims;
  `.execute(db);
}
