// Versioning: the app versions coordinators carry (which version new runs get, which runs wait),
// and PATCH journal entries (ctx.patched markers).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE steps DROP CONSTRAINT steps_kind_check;
    ALTER TABLE steps ADD CONSTRAINT steps_kind_check
      CHECK (kind IN ('query', 'mutation', 'action', 'sleep', 'event', 'child', 'on_complete', 'patch'));

    -- Every (workflow, version) a coordinator ever registered; first_seen orders versions (newest last).
    CREATE TABLE workflow_versions (
      workflow_name text NOT NULL,
      app_version text NOT NULL,
      first_seen timestamptz NOT NULL DEFAULT clock_timestamp(),
      PRIMARY KEY (workflow_name, app_version)
    );

    -- Live coordinators and the version they carry ('' for an app without a version).
    CREATE TABLE coordinators (
      id text PRIMARY KEY,
      app_version text NOT NULL,
      last_seen timestamptz NOT NULL
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE coordinators; DROP TABLE workflow_versions;
    DELETE FROM steps WHERE kind = 'patch';
    ALTER TABLE steps DROP CONSTRAINT steps_kind_check;
    ALTER TABLE steps ADD CONSTRAINT steps_kind_check
      CHECK (kind IN ('query', 'mutation', 'action', 'sleep', 'event', 'child', 'on_complete'));
  `.execute(db);
}
