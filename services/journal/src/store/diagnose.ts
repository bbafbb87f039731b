// Storage side of Diagnose: read-only queries over the journal's tables (each one served by the
// partial indexes the hot path already uses, so a diagnose never scans finished runs).
import { sql } from "kysely";
import type { Db } from "../db.ts";

export interface ShardRow {
  shard: number;
  ready_runs: number;
  oldest_ready_age_ms: number;
  leased_runs: number;
  running_tasks: number;
}

export async function shardFigures(db: Db): Promise<ShardRow[]> {
  const { rows } = await sql<ShardRow>`
    /* diagnose */
    WITH ready AS (
      SELECT shard, count(*)::int AS n,
             coalesce(extract(epoch FROM now() - min(ready_at)) * 1000, 0)::float8 AS age
      FROM runs WHERE status = 'running' AND ready AND lease_expires IS NULL GROUP BY shard
    ), leased AS (
      SELECT shard, count(*)::int AS n FROM runs
      WHERE status = 'running' AND lease_expires IS NOT NULL GROUP BY shard
    ), tasks AS (
      SELECT shard, count(*)::int AS n FROM steps
      WHERE status = 'running' AND kind IN ('query', 'mutation', 'action', 'on_complete') GROUP BY shard
    )
    SELECT l.shard, coalesce(ready.n, 0) AS ready_runs, greatest(coalesce(ready.age, 0), 0) AS oldest_ready_age_ms,
           coalesce(leased.n, 0) AS leased_runs, coalesce(tasks.n, 0) AS running_tasks
    FROM shard_leases l
    LEFT JOIN ready ON ready.shard = l.shard
    LEFT JOIN leased ON leased.shard = l.shard
    LEFT JOIN tasks ON tasks.shard = l.shard
    ORDER BY l.shard`.execute(db);
  return rows;
}

export interface ShardLeaseRow {
  shard: number;
  owner: string | null;
}

export async function shardOwners(db: Db): Promise<ShardLeaseRow[]> {
  const { rows } = await sql<ShardLeaseRow>`
    /* diagnose */ SELECT shard, CASE WHEN expires_at >= now() THEN owner END AS owner
    FROM shard_leases ORDER BY shard`.execute(db);
  return rows;
}

export interface UnclaimedRow {
  id: string;
  workflow_name: string;
  shard: number;
  app_version: string | null;
  age_ms: number;
}

/** Ready runs without a lease for longer than `thresholdMs`, oldest first, and their count. */
export async function unclaimedRuns(
  db: Db,
  thresholdMs: number,
  limit: number,
): Promise<{ rows: UnclaimedRow[]; total: number }> {
  const { rows } = await sql<UnclaimedRow & { total: number }>`
    /* diagnose */ SELECT id, workflow_name, shard, app_version,
           (extract(epoch FROM now() - ready_at) * 1000)::float8 AS age_ms, count(*) OVER ()::int AS total
    FROM runs
    WHERE status = 'running' AND ready AND lease_expires IS NULL
      AND ready_at < now() - ${thresholdMs} * interval '1 millisecond'
    ORDER BY ready_at LIMIT ${limit}`.execute(db);
  return { rows, total: rows[0]?.total ?? 0 };
}

export interface OverdueRow {
  id: string;
  run_id: string;
  seq: number;
  name: string;
  kind: string;
  attempt: number;
  dispatch: number;
  overdue_ms: number;
}

/**
 * Running steps past their timeout: executor kinds without a result or heartbeat within the
 * dispatch timeout, sleeps past their wake-up, event waits past their timeout.
 */
export async function overdueSteps(
  db: Db,
  dispatchTimeoutMs: number,
  limit: number,
): Promise<{ rows: OverdueRow[]; total: number }> {
  const { rows } = await sql<OverdueRow & { total: number }>`
    /* diagnose */ SELECT *, count(*) OVER ()::int AS total FROM (
      SELECT id, run_id, seq, name, kind, attempt, dispatch,
             (extract(epoch FROM now() - coalesce(heartbeat_at, dispatched_at)) * 1000 - ${dispatchTimeoutMs})::float8 AS overdue_ms
      FROM steps
      WHERE status = 'running' AND kind IN ('query', 'mutation', 'action', 'on_complete')
        AND coalesce(heartbeat_at, dispatched_at) < now() - ${dispatchTimeoutMs} * interval '1 millisecond'
      UNION ALL
      SELECT id, run_id, seq, name, kind, attempt, dispatch, (extract(epoch FROM now() - wake_at) * 1000)::float8
      FROM steps WHERE status = 'running' AND kind = 'sleep' AND wake_at < now()
      UNION ALL
      SELECT id, run_id, seq, name, kind, attempt, dispatch, (extract(epoch FROM now() - timeout_at) * 1000)::float8
      FROM steps WHERE status = 'running' AND kind = 'event' AND timeout_at < now()
    ) overdue
    ORDER BY overdue_ms DESC LIMIT ${limit}`.execute(db);
  return { rows, total: rows[0]?.total ?? 0 };
}

export interface VersionRow {
  app_version: string;
  ready_runs: number;
  oldest_ready_age_ms: number;
  carried: boolean;
}

/**
 * Ready, unclaimed runs by the app version they started on, and whether a live coordinator (one
 * that registered within `coordinatorTtlMs`) carries it: runs of a version nobody carries wait.
 */
export async function readyRunsByVersion(db: Db, coordinatorTtlMs: number): Promise<VersionRow[]> {
  const { rows } = await sql<VersionRow>`
    /* diagnose */ SELECT coalesce(r.app_version, '') AS app_version, count(*)::int AS ready_runs,
           greatest(extract(epoch FROM now() - min(r.ready_at)) * 1000, 0)::float8 AS oldest_ready_age_ms,
           EXISTS (SELECT 1 FROM coordinators c
                   WHERE c.app_version = coalesce(r.app_version, '')
                     AND c.last_seen > now() - ${coordinatorTtlMs} * interval '1 millisecond') AS carried
    FROM runs r WHERE r.status = 'running' AND r.ready AND r.lease_expires IS NULL
    GROUP BY r.app_version ORDER BY 1`.execute(db);
  return rows;
}
