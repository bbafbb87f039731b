// Tenancy: every run belongs to a namespace ('default' for runs from before). Idempotency keys are
// unique per namespace; lists by namespace are served newest first by an index. A child run
// inherits its parent's namespace in the database, so no insert path can forget it.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE runs ADD COLUMN namespace text NOT NULL DEFAULT 'default';
    DROP INDEX runs_idempotency_key;
    CREATE UNIQUE INDEX runs_namespace_idempotency_key ON runs (namespace, idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    CREATE INDEX runs_namespace_created ON runs (namespace, created_at DESC, id DESC);

    CREATE FUNCTION runs_inherit_namespace() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      SELECT namespace INTO NEW.namespace FROM runs WHERE id = NEW.parent_run_id;
      RETURN NEW;
    END $$;
    CREATE TRIGGER runs_inherit_namespace BEFORE INSERT ON runs
      FOR EACH ROW WHEN (NEW.parent_run_id IS NOT NULL) EXECUTE FUNCTION runs_inherit_namespace();
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TRIGGER runs_inherit_namespace ON runs;
    DROP FUNCTION runs_inherit_namespace();
    DROP INDEX runs_namespace_created;
    DROP INDEX runs_namespace_idempotency_key;
    CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    ALTER TABLE runs DROP COLUMN namespace;
  `.execute(db);
}
