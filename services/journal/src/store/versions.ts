// Storage of app versions: which (workflow, version) pairs coordinators registered, which
// coordinators are alive with which version, the version a new run gets, and the runs that wait
// for a version no live coordinator carries.
import { sql } from "kysely";
import type { Db } from "../db.ts";

/**
 * A coordinator's registration: its versions are carried while it keeps registering (every
 * WEFT_REGISTER_INTERVAL_MS); `leaving` forgets it at once (graceful shutdown).
 */
export async function registerCoordinator(
  db: Db,
  coordinatorId: string,
  appVersion: string,
  workflowNames: readonly string[],
  leaving: boolean,
): Promise<void> {
  if (leaving) {
    await sql`DELETE FROM coordinators WHERE id = ${coordinatorId}`.execute(db);
    return;
  }
  await sql`
    WITH versions AS (
      INSERT INTO workflow_versions (workflow_name, app_version)
      SELECT name, ${appVersion} FROM unnest(${[...workflowNames]}::text[]) AS t(name)
      ON CONFLICT DO NOTHING)
    INSERT INTO coordinators (id, app_version, last_seen) VALUES (${coordinatorId}, ${appVersion}, now())
    ON CONFLICT (id) DO UPDATE SET app_version = excluded.app_version, last_seen = now()`.execute(db);
}

/** SQL: the version a new run of `workflow_name` gets (newest version a live coordinator carries, else newest). */
export function currentVersionsCte(names: readonly string[], ttlMs: number) {
  return sql`
    SELECT DISTINCT ON (v.workflow_name) v.workflow_name, v.app_version
    FROM workflow_versions v
    WHERE v.workflow_name = ANY(${[...new Set(names)]}::text[])
    ORDER BY v.workflow_name,
             EXISTS (SELECT 1 FROM coordinators c
                     WHERE c.app_version = v.app_version AND c.last_seen > now() - ${ttlMs} * interval '1 millisecond') DESC,
             v.first_seen DESC`;
}

/** The version new runs of each workflow get (only workflows some coordinator registered). */
export async function currentVersions(db: Db, names: readonly string[], ttlMs: number): Promise<Map<string, string>> {
  if (names.length === 0) return new Map();
  const { rows } = await sql<{
    workflow_name: string;
    app_version: string;
  }>`${currentVersionsCte(names, ttlMs)}`.execute(db);
  return new Map(rows.map((r) => [r.workflow_name, r.app_version]));
}

/** Whether some coordinator ever registered `version` of `workflowName` (or it is the workflow's registered version). */
export async function isVersionRegistered(db: Db, workflowName: string, version: string): Promise<boolean> {
  const { rows } = await sql<{ found: boolean }>`
    SELECT EXISTS (SELECT 1 FROM workflow_versions WHERE workflow_name = ${workflowName} AND app_version = ${version})
        OR EXISTS (SELECT 1 FROM workflow_defs WHERE name = ${workflowName} AND coalesce(app_version, '') = ${version})
      AS found`.execute(db);
  return rows[0]?.found === true;
}

export interface VersionWait {
  workflowName: string;
  /** '' for runs without a version. */
  appVersion: string;
  /** Ready runs that no live coordinator can claim. */
  runs: number;
  oldestReadyAt: Date | null;
}

/**
 * Runs that wait for a version nobody carries: running, ready, not leased (or the lease expired),
 * and no coordinator seen within `ttlMs` carries their app version. Grouped by workflow and
 * version. For the diagnose RPC; it reads the claim index's rows, not the hot path.
 */
export async function runsWaitingForVersion(db: Db, ttlMs: number): Promise<VersionWait[]> {
  const { rows } = await sql<{ workflow_name: string; app_version: string; runs: string; oldest: Date | null }>`
    SELECT r.workflow_name, coalesce(r.app_version, '') AS app_version, count(*) AS runs, min(r.ready_at) AS oldest
    FROM runs r
    WHERE r.status = 'running' AND ((r.ready AND r.lease_expires IS NULL) OR r.lease_expires < now())
      AND NOT EXISTS (SELECT 1 FROM coordinators c
                      WHERE c.app_version = coalesce(r.app_version, '')
                        AND c.last_seen > now() - ${ttlMs} * interval '1 millisecond')
    GROUP BY 1, 2
    ORDER BY 1, 2`.execute(db);
  return rows.map((r) => ({
    workflowName: r.workflow_name,
    appVersion: r.app_version,
    runs: Number(r.runs),
    oldestReadyAt: r.oldest,
  }));
}

/** Total of runsWaitingForVersion. */
export async function countRunsWaitingForVersion(db: Db, ttlMs: number): Promise<number> {
  return (await runsWaitingForVersion(db, ttlMs)).reduce((n, w) => n + w.runs, 0);
}
