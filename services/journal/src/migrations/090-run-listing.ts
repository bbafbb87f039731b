// The newest-first listing of runs moves to a table of its own, written once per run. As an index
// of runs, (namespace, created_at, id) took a new entry at every update of a run that changed an
// indexed column, which is every turn's lease, release and wake-up: about nine entries per
// four-step run at W0, and Postgres's clean-up of the versions they left (bottom-up deletion). The
// listing's rows never change; statement-level triggers keep them in step with runs, one insert
// per INSERT statement on runs (a group-committed batch of starts, a turn's children), one delete
// per DELETE (retention) and a TRUNCATE with runs', so no insert or delete path can forget them.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE run_listing (
      namespace text NOT NULL,
      created_at timestamptz NOT NULL,
      id uuid NOT NULL,
      PRIMARY KEY (namespace, created_at, id)
    );
    INSERT INTO run_listing (namespace, created_at, id) SELECT namespace, created_at, id FROM runs;
    DROP INDEX runs_namespace_created;

    -- One function for the three triggers; each branch reads only its own transition table.
    CREATE FUNCTION run_listing_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO run_listing (namespace, created_at, id) SELECT namespace, created_at, id FROM inserted_runs;
      ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM run_listing l USING deleted_runs d
        WHERE l.namespace = d.namespace AND l.created_at = d.created_at AND l.id = d.id;
      ELSE
        TRUNCATE run_listing;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER run_listing_insert AFTER INSERT ON runs
      REFERENCING NEW TABLE AS inserted_runs FOR EACH STATEMENT EXECUTE FUNCTION run_listing_sync();
    CREATE TRIGGER run_listing_delete AFTER DELETE ON runs
      REFERENCING OLD TABLE AS deleted_runs FOR EACH STATEMENT EXECUTE FUNCTION run_listing_sync();
    CREATE TRIGGER run_listing_truncate AFTER TRUNCATE ON runs
      FOR EACH STATEMENT EXECUTE FUNCTION run_listing_sync();
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER run_listing_truncate ON runs;
    DROP TRIGGER run_listing_delete ON runs;
    DROP TRIGGER run_listing_insert ON runs;
    DROP FUNCTION run_listing_sync();
    CREATE INDEX runs_namespace_created ON runs (namespace, created_at DESC, id DESC);
    DROP TABLE run_listing;
  `.execute(db);
}
