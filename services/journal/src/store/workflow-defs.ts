// Storage of the workflow names workers registered (StartWorkflow accepts only these).
import { sql } from "kysely";
import type { Db } from "../db.ts";

export interface WorkflowDef {
  name: string;
  has_on_complete: boolean;
  app_version: string | null;
}

export async function upsertWorkflowDefs(db: Db, defs: readonly WorkflowDef[]): Promise<void> {
  if (defs.length === 0) return;
  await sql`
    INSERT INTO workflow_defs (name, has_on_complete, app_version, updated_at)
    SELECT * , now() FROM unnest(${defs.map((d) => d.name)}::text[], ${defs.map((d) => d.has_on_complete)}::bool[],
                         ${defs.map((d) => d.app_version)}::text[])
    ON CONFLICT (name) DO UPDATE SET has_on_complete = excluded.has_on_complete,
                                     app_version = excluded.app_version, updated_at = now()`.execute(db);
}

export async function getWorkflowDefs(db: Db, names: readonly string[]): Promise<Map<string, WorkflowDef>> {
  if (names.length === 0) return new Map();
  const { rows } = await sql<WorkflowDef>`
    SELECT name, has_on_complete, app_version FROM workflow_defs
    WHERE name = ANY(${[...new Set(names)]}::text[])`.execute(db);
  return new Map(rows.map((r) => [r.name, r]));
}
