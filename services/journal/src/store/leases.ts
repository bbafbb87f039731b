// Storage of shard leases: executors take, renew and release shards, balanced across the live ones.
import { sql } from "kysely";
import type { Db } from "../db.ts";

export interface ShardLeaseRow {
  shard: number;
  token: string;
  expires_at: Date;
}

export interface LeaseOutcome {
  leases: ShardLeaseRow[];
  live: number;
}

/** Advisory lock key that serialises every lease balancing transaction. */
const LEASE_LOCK = 0x77656674;

/** Creates the shard rows (idempotent). */
export async function ensureShards(db: Db, shardCount: number): Promise<void> {
  await sql`
    INSERT INTO shard_leases (shard, owner, token, expires_at)
    SELECT s, NULL, 0, NULL FROM generate_series(0, ${shardCount - 1}::int) AS s
    ON CONFLICT (shard) DO NOTHING`.execute(db);
}

/**
 * Renews, releases and takes shards for one executor in one transaction under an advisory lock:
 * target = ceil(shards / live executors); the caller keeps at most target, then takes free or
 * expired shards up to target.
 */
export async function balanceLeases(
  db: Db,
  executorId: string,
  leaseMs: number,
  release: readonly number[],
  shardCount: number,
): Promise<LeaseOutcome> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${LEASE_LOCK})`.execute(trx);
    const interval = sql`${leaseMs} * interval '1 millisecond'`;
    if (release.length > 0) {
      await sql`
        UPDATE shard_leases SET owner = NULL, expires_at = NULL
        WHERE owner = ${executorId} AND shard = ANY(${[...release]}::int[])`.execute(trx);
    }
    const { rows: held } = await sql<{ shard: number }>`
      SELECT shard FROM shard_leases WHERE owner = ${executorId} AND expires_at >= now()
      ORDER BY shard`.execute(trx);
    // An executor that gives up everything it held is leaving: it no longer counts as live.
    const leaving = release.length > 0 && held.length === 0;
    if (leaving) {
      await sql`DELETE FROM executors WHERE id = ${executorId}`.execute(trx);
    } else {
      await sql`
        INSERT INTO executors (id, last_seen) VALUES (${executorId}, now())
        ON CONFLICT (id) DO UPDATE SET last_seen = now()`.execute(trx);
    }
    const { rows: liveRows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM executors WHERE last_seen > now() - ${interval}`.execute(trx);
    const live = liveRows[0]?.n ?? 0;
    if (leaving) return { leases: [], live };
    const target = Math.ceil(shardCount / Math.max(live, 1));
    const keep = held.slice(0, target).map((r) => r.shard);
    const drop = held.slice(target).map((r) => r.shard);
    if (drop.length > 0) {
      await sql`
        UPDATE shard_leases SET owner = NULL, expires_at = NULL
        WHERE owner = ${executorId} AND shard = ANY(${drop}::int[])`.execute(trx);
    }
    if (keep.length > 0) {
      await sql`
        UPDATE shard_leases SET expires_at = now() + ${interval}
        WHERE owner = ${executorId} AND shard = ANY(${keep}::int[])`.execute(trx);
    }
    const want = target - keep.length;
    if (want > 0) {
      await sql`
        UPDATE shard_leases SET owner = ${executorId}, token = token + 1, expires_at = now() + ${interval}
        WHERE shard IN (
          SELECT shard FROM shard_leases
          WHERE shard < ${shardCount} AND (owner IS NULL OR expires_at IS NULL OR expires_at < now())
            AND NOT (shard = ANY(${[...release, ...drop]}::int[]))
          ORDER BY shard LIMIT ${want})`.execute(trx);
    }
    const { rows: leases } = await sql<ShardLeaseRow>`
      SELECT shard, token, expires_at FROM shard_leases
      WHERE owner = ${executorId} AND expires_at >= now() ORDER BY shard`.execute(trx);
    return { leases, live };
  });
}
