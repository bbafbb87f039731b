// Storage of runs: insert, read, list, claim under a lease, fence a turn, mark ready.
import { sql } from "kysely";
import { type Db, type RunRow, type RunStatusText, UNAWAITED } from "../db.ts";
import { currentVersionsCte } from "./versions.ts";

/**
 * What a claim carries of its run (claimRunToProto): what replay and the turn's span read. The
 * args only on a generation's first claim (`claims` at most 1 once leased): a later claim
 * continues a live execution, which has them, and any other coordinator reads the whole run with
 * ReadJournals. The statements that lease runs return these columns, not the run's whole row
 * (its result, failure, keys and five timestamps, each parsed per row).
 */
const CLAIM_COLUMNS = [
  "id",
  "workflow_name",
  "status",
  "args",
  "generation",
  "shard",
  "lease_owner",
  "lease_token",
  "claims",
  "traceparent",
  "app_version",
  "namespace",
  "created_at",
] as const satisfies readonly (keyof RunRow)[];

export type ClaimRunRow = Pick<RunRow, (typeof CLAIM_COLUMNS)[number]>;

/** The same columns, selected from a statement's CTE of leased rows. */
const CLAIMED_COLUMNS = sql.raw(CLAIM_COLUMNS.join(", "));

/** The RETURNING list of a statement that leases `runs` (the updated row's values). */
const RETURNING_CLAIM = sql.raw(
  CLAIM_COLUMNS.map((c) => (c === "args" ? "CASE WHEN runs.claims <= 1 THEN runs.args END AS args" : `runs.${c}`)).join(
    ", ",
  ),
);

export interface NewRun {
  id: string;
  workflowName: string;
  args: Buffer | null;
  idempotencyKey: string | null;
  parentRunId: string | null;
  parentSeq: number | null;
  shard: number;
  traceparent: string | null;
  appVersion: string | null;
}

/** Inserts runs (one statement); with an idempotency key conflict nothing is inserted for that run. */
export async function insertRuns(db: Db, runs: readonly NewRun[]): Promise<RunRow[]> {
  if (runs.length === 0) return [];
  const { rows } = await sql<RunRow>`
    INSERT INTO runs (id, workflow_name, status, args, idempotency_key, parent_run_id, parent_seq, shard,
                      traceparent, app_version, ready, ready_at)
    SELECT t.id, t.workflow_name, 'running', t.args, t.idempotency_key, t.parent_run_id, t.parent_seq, t.shard,
           t.traceparent, t.app_version, true, now()
    FROM unnest(${runs.map((r) => r.id)}::uuid[], ${runs.map((r) => r.workflowName)}::text[],
                ${runs.map((r) => r.args)}::bytea[], ${runs.map((r) => r.idempotencyKey)}::text[],
                ${runs.map((r) => r.parentRunId)}::uuid[], ${runs.map((r) => r.parentSeq)}::int[],
                ${runs.map((r) => r.shard)}::int[], ${runs.map((r) => r.traceparent)}::text[],
                ${runs.map((r) => r.appVersion)}::text[])
      AS t(id, workflow_name, args, idempotency_key, parent_run_id, parent_seq, shard, traceparent, app_version)
    ON CONFLICT (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *`.execute(db);
  return rows;
}

/** A version filter as a jsonb array of strings (`?` tests membership); null: any version. */
function versionsJson(versions: readonly string[] | null | undefined): string | null {
  return versions ? JSON.stringify(versions) : null;
}

export type NewRootRun = Omit<NewRun, "parentRunId" | "parentSeq"> & {
  /** Tenancy: the namespace the run belongs to. */
  namespace: string;
  /**
   * Inserted already leased to this coordinator (a push claim; its first claim), when the run's
   * version is one of `appVersions` (null: any version).
   */
  lease?: { owner: string; leaseMs: number; appVersions: readonly string[] | null };
};

/**
 * Inserts root runs of registered workflows (one statement): the workflow's registration is
 * checked and its app version chosen in the same statement: the run's pinned version, else the
 * newest version a live coordinator carries (seen within `coordinatorTtlMs`), else the newest any
 * coordinator registered, else the workflow's registered version. A run whose workflow is not
 * registered, or whose idempotency key is taken, is not inserted.
 */
export async function insertRootRuns(db: Db, runs: readonly NewRootRun[], coordinatorTtlMs: number): Promise<RunRow[]> {
  if (runs.length === 0) return [];
  const { rows } = await sql<RunRow>`
    WITH current AS (${currentVersionsCte(
      runs.map((r) => r.workflowName),
      coordinatorTtlMs,
    )}),
    chosen AS (
      SELECT t.*, coalesce(t.app_version, cur.app_version, d.app_version) AS version
      FROM unnest(${runs.map((r) => r.id)}::uuid[], ${runs.map((r) => r.workflowName)}::text[],
                  ${runs.map((r) => r.args)}::bytea[], ${runs.map((r) => r.idempotencyKey)}::text[],
                  ${runs.map((r) => r.shard)}::int[], ${runs.map((r) => r.traceparent)}::text[],
                  ${runs.map((r) => r.appVersion)}::text[], ${runs.map((r) => r.lease?.owner ?? null)}::text[],
                  ${runs.map((r) => r.lease?.leaseMs ?? null)}::int[],
                  ${runs.map((r) => versionsJson(r.lease?.appVersions))}::jsonb[], ${runs.map((r) => r.namespace)}::text[])
        AS t(id, workflow_name, args, idempotency_key, shard, traceparent, app_version, owner, lease_ms, owner_versions,
             namespace)
      JOIN workflow_defs d ON d.name = t.workflow_name
      LEFT JOIN current cur ON cur.workflow_name = t.workflow_name),
    -- A push lease only to a coordinator that carries the run's version.
    placed AS (
      SELECT c.*, CASE WHEN c.owner_versions IS NULL OR c.owner_versions ? coalesce(c.version, '') THEN c.owner END AS lease_to
      FROM chosen c)
    INSERT INTO runs (id, workflow_name, status, args, idempotency_key, shard, traceparent, app_version, ready, ready_at,
                      lease_owner, lease_expires, lease_token, claims, namespace)
    SELECT p.id, p.workflow_name, 'running', p.args, p.idempotency_key, p.shard, p.traceparent, p.version,
           p.lease_to IS NULL, now(), p.lease_to,
           CASE WHEN p.lease_to IS NOT NULL THEN now() + p.lease_ms * interval '1 millisecond' END,
           CASE WHEN p.lease_to IS NULL THEN 0 ELSE 1 END, CASE WHEN p.lease_to IS NULL THEN 0 ELSE 1 END, p.namespace
    FROM placed p
    ON CONFLICT (namespace, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *`.execute(db);
  return rows;
}

export async function getRun(db: Db, id: string): Promise<RunRow | undefined> {
  const { rows } = await sql<RunRow>`SELECT * FROM runs WHERE id = ${id}`.execute(db);
  return rows[0];
}

export async function getRunForUpdate(db: Db, id: string): Promise<RunRow | undefined> {
  const { rows } = await sql<RunRow>`SELECT * FROM runs WHERE id = ${id} FOR UPDATE`.execute(db);
  return rows[0];
}

export async function getRunByIdempotencyKey(db: Db, namespace: string, key: string): Promise<RunRow | undefined> {
  const { rows } = await sql<RunRow>`
    SELECT * FROM runs WHERE namespace = ${namespace} AND idempotency_key = ${key}`.execute(db);
  return rows[0];
}

/** Runs holding any of the given idempotency keys, by `namespace + "\0" + key`. */
export async function runsByIdempotencyKeys(
  db: Db,
  keys: readonly { namespace: string; key: string }[],
): Promise<Map<string, RunRow>> {
  if (keys.length === 0) return new Map();
  const { rows } = await sql<RunRow>`
    SELECT r.* FROM runs r
    JOIN unnest(${keys.map((k) => k.namespace)}::text[], ${keys.map((k) => k.key)}::text[]) AS t(namespace, key)
      ON r.namespace = t.namespace AND r.idempotency_key = t.key`.execute(db);
  return new Map(rows.map((r) => [`${r.namespace}\u0000${r.idempotency_key}`, r]));
}

export interface RunFilter {
  /** Only this namespace; undefined: every namespace. */
  namespace?: string;
  workflowName?: string;
  statuses: RunStatusText[];
  createdAfter?: Date;
  createdBefore?: Date;
  parentRunId?: string;
  /** Keyset cursor: runs strictly older than (createdAt, id). createdAt is Postgres text, exact to the µs. */
  before?: { createdAt: string; id: string };
  limit: number;
}

export type ListedRun = RunRow & { created_text: string };

/**
 * The conditions on the listing (`l`, migration 090) of a newest-first page: namespace, creation
 * range and the keyset cursor, which its primary key serves in order.
 */
export function listingConditions(f: {
  namespace?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  before?: { createdAt: string; id: string };
}) {
  const conditions = [sql`true`];
  if (f.namespace !== undefined) conditions.push(sql`l.namespace = ${f.namespace}`);
  if (f.createdAfter) conditions.push(sql`l.created_at > ${f.createdAfter}`);
  if (f.createdBefore) conditions.push(sql`l.created_at < ${f.createdBefore}`);
  if (f.before) {
    conditions.push(sql`(l.created_at, l.id) < (${f.before.createdAt}::timestamptz, ${f.before.id}::uuid)`);
  }
  return conditions;
}

/** Newest first by (created_at, id), read in that order from the listing. */
export async function listRuns(db: Db, f: RunFilter): Promise<ListedRun[]> {
  const conditions = listingConditions(f);
  if (f.workflowName !== undefined) conditions.push(sql`r.workflow_name = ${f.workflowName}`);
  if (f.statuses.length > 0) conditions.push(sql`r.status = ANY(${f.statuses}::text[])`);
  if (f.parentRunId !== undefined) conditions.push(sql`r.parent_run_id = ${f.parentRunId}`);
  const { rows } = await sql<ListedRun>`
    SELECT r.*, r.created_at::text AS created_text FROM run_listing l JOIN runs r ON r.id = l.id
    WHERE ${sql.join(conditions, sql` AND `)}
    ORDER BY l.created_at DESC, l.id DESC
    LIMIT ${f.limit}`.execute(db);
  return rows;
}

/**
 * One statement: leases up to `maxRuns` claimable runs of the given shards and app versions
 * (empty: any), runs whose lease expired first, then ready runs oldest first, skipping rows other
 * claimers hold. Returned oldest ready first.
 */
export async function claimRuns(
  db: Db,
  owner: string,
  maxRuns: number,
  leaseMs: number,
  shards: readonly number[],
  appVersions: readonly string[] = [],
): Promise<ClaimRunRow[]> {
  const shardFilter = shards.length > 0 ? sql`AND shard = ANY(${[...shards]}::int[])` : sql``;
  // A coordinator claims only runs of the versions it carries; the others wait for theirs.
  const versionFilter =
    appVersions.length > 0 ? sql`AND coalesce(app_version, '') = ANY(${[...appVersions]}::text[])` : sql``;
  // Two index-ordered scans, each reading only the rows it takes: expired leases first (runs_leased),
  // then ready runs oldest first (runs_ready). One OR of both conditions was a bitmap scan and a
  // sort of every claimable run per call: 11 ms for 256 of 19,500 waiting, O(backlog) per claim.
  // Oldest ready first (expired leases, which keep their ready_at, among them), ordered here so
  // that the client parses no timestamp for it.
  const { rows } = await sql<ClaimRunRow>`
    WITH expired AS (
      SELECT id FROM runs
      WHERE status = 'running' AND lease_expires < now() ${shardFilter} ${versionFilter}
      ORDER BY lease_expires
      LIMIT ${maxRuns}
      FOR UPDATE SKIP LOCKED
    ), fresh AS (
      SELECT id FROM runs
      WHERE status = 'running' AND ready AND lease_expires IS NULL ${shardFilter} ${versionFilter}
      ORDER BY ready_at
      LIMIT ${maxRuns}::int - (SELECT count(*) FROM expired)
      FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE runs SET lease_owner = ${owner},
                      lease_expires = now() + ${leaseMs} * interval '1 millisecond',
                      lease_token = lease_token + 1,
                      claims = claims + 1,
                      ready = false,
                      updated_at = now()
      WHERE id = ANY(ARRAY(SELECT id FROM expired UNION ALL SELECT id FROM fresh))
      RETURNING ${RETURNING_CLAIM}, runs.ready_at
    )
    SELECT ${CLAIMED_COLUMNS} FROM leased ORDER BY ready_at NULLS FIRST`.execute(db);
  return rows;
}

export interface FenceInput {
  runId: string;
  token: bigint;
}

/**
 * Releases the leases of the turns whose owner and token still match an unexpired lease, and locks
 * those runs for the rest of the transaction. Returns the runs that passed.
 */
/** What a commit needs of a fenced run (not its args or result: payloads stay in Postgres). */
export type FencedRun = Pick<RunRow, "id" | "workflow_name" | "generation" | "shard" | "ready" | "traceparent">;

export async function fenceAndRelease(db: Db, owner: string, turns: readonly FenceInput[]): Promise<FencedRun[]> {
  const ids = turns.map((t) => t.runId);
  const { rows } = await sql<FencedRun>`
    UPDATE runs SET lease_owner = NULL, lease_expires = NULL, updated_at = now()
    FROM unnest(${ids}::uuid[], ${turns.map((t) => t.token.toString())}::bigint[]) AS t(id, token)
    WHERE runs.id = t.id AND runs.id = ANY(${ids}::uuid[])
      AND runs.status = 'running' AND runs.lease_owner = ${owner}
      AND runs.lease_token = t.token AND runs.lease_expires >= now()
    RETURNING runs.id, runs.workflow_name, runs.generation, runs.shard, runs.ready, runs.traceparent`.execute(db);
  return rows;
}

export async function runStatuses(db: Db, ids: readonly string[]): Promise<Map<string, RunStatusText>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{ id: string; status: RunStatusText }>`
    SELECT id, status FROM runs WHERE id = ANY(${[...ids]}::uuid[])`.execute(db);
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** A run to lease to an owner (a push claim). */
export interface LeaseTo {
  runId: string;
  owner: string;
  leaseMs: number;
  /** Lease only a run of one of these app versions (the owner carries no other); absent or null: any. */
  appVersions?: readonly string[] | null;
}

/**
 * Leases the given runs to their owners if they are running, ready and not leased (a claim of
 * runs the caller already knows are ready, e.g. made ready in the same transaction); returns the
 * runs it leased.
 */
export async function leaseReadyRuns(db: Db, leases: readonly LeaseTo[]): Promise<ClaimRunRow[]> {
  if (leases.length === 0) return [];
  const { rows } = await sql<ClaimRunRow>`
    UPDATE runs SET lease_owner = t.owner,
                    lease_expires = now() + t.lease_ms * interval '1 millisecond',
                    lease_token = lease_token + 1,
                    claims = claims + 1,
                    ready = false,
                    updated_at = now()
    FROM unnest(${leases.map((l) => l.runId)}::uuid[], ${leases.map((l) => l.owner)}::text[],
                ${leases.map((l) => l.leaseMs)}::int[], ${leases.map((l) => versionsJson(l.appVersions))}::jsonb[])
      AS t(id, owner, lease_ms, app_versions)
    WHERE runs.id = t.id AND runs.id = ANY(${leases.map((l) => l.runId)}::uuid[])
      AND runs.status = 'running' AND runs.ready
      AND (runs.lease_expires IS NULL OR runs.lease_expires < now())
      AND (t.app_versions IS NULL OR t.app_versions ? coalesce(runs.app_version, ''))
    RETURNING ${RETURNING_CLAIM}`.execute(db);
  return rows;
}

/** Releases leases that are still the given owner's with the given token, and makes the runs ready. */
export async function releaseLeases(db: Db, leases: readonly (FenceInput & { owner: string })[]): Promise<void> {
  if (leases.length === 0) return;
  await sql`
    UPDATE runs SET lease_owner = NULL, lease_expires = NULL, ready = true,
                    ready_at = coalesce(ready_at, now()), updated_at = now()
    FROM unnest(${leases.map((l) => l.runId)}::uuid[], ${leases.map((l) => l.owner)}::text[],
                ${leases.map((l) => l.token.toString())}::bigint[]) AS t(id, owner, token)
    WHERE runs.id = t.id AND runs.id = ANY(${leases.map((l) => l.runId)}::uuid[])
      AND runs.status = 'running' AND runs.lease_owner = t.owner AND runs.lease_token = t.token`.execute(db);
}

/** The running runs among `ids`. */
export async function runningRuns(db: Db, ids: readonly string[]): Promise<RunRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<RunRow>`
    SELECT * FROM runs WHERE id = ANY(${[...ids]}::uuid[]) AND status = 'running'`.execute(db);
  return rows;
}

/**
 * markReady and leaseReadyRuns in one statement (one new row version per run instead of
 * two): marks the running runs among `ids` ready, and leases at once those with an entry in
 * `leases` that nobody holds and whose version the owner carries (those end up not ready, with
 * the next claim number). Returns every run it marked, with `taken` (leased here) and `leased`
 * (held by a coordinator before: a turn in progress, whose commit finds the run ready).
 */
export async function markReadyTaking(
  db: Db,
  ids: readonly string[],
  leases: ReadonlyMap<string, LeaseTo>,
): Promise<(ClaimRunRow & { taken: boolean; leased: boolean })[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const lease = unique.map((id) => leases.get(id));
  const { rows } = await sql<ClaimRunRow & { taken: boolean; leased: boolean }>`
    UPDATE runs SET ready = NOT d.taken,
                    ready_at = CASE WHEN runs.ready THEN runs.ready_at ELSE now() END,
                    lease_owner = CASE WHEN d.taken THEN d.owner ELSE runs.lease_owner END,
                    lease_expires = CASE WHEN d.taken THEN now() + d.lease_ms * interval '1 millisecond'
                                         ELSE runs.lease_expires END,
                    lease_token = runs.lease_token + CASE WHEN d.taken THEN 1 ELSE 0 END,
                    claims = runs.claims + CASE WHEN d.taken THEN 1 ELSE 0 END,
                    updated_at = now()
    FROM (
      SELECT r.id, t.owner, t.lease_ms,
             coalesce(r.lease_expires >= now(), false) AS leased,
             (t.owner IS NOT NULL AND NOT coalesce(r.lease_expires >= now(), false)
              AND (t.app_versions IS NULL OR t.app_versions ? coalesce(r.app_version, ''))) AS taken
      FROM unnest(${unique}::uuid[], ${lease.map((l) => l?.owner ?? null)}::text[],
                  ${lease.map((l) => l?.leaseMs ?? null)}::int[],
                  ${lease.map((l) => versionsJson(l?.appVersions))}::jsonb[]) AS t(id, owner, lease_ms, app_versions)
      JOIN runs r ON r.id = t.id
      WHERE r.id = ANY(${unique}::uuid[]) AND r.status = 'running'
    ) d
    WHERE runs.id = d.id AND runs.id = ANY(${unique}::uuid[])
    RETURNING ${RETURNING_CLAIM}, d.taken, d.leased`.execute(db);
  return rows;
}

/** The app versions of the given runs. */
export async function runVersions(db: Db, ids: readonly string[]): Promise<Map<string, string | null>> {
  if (ids.length === 0) return new Map();
  const { rows } = await sql<{ id: string; app_version: string | null }>`
    SELECT id, app_version FROM runs WHERE id = ANY(${[...new Set(ids)]}::uuid[])`.execute(db);
  return new Map(rows.map((r) => [r.id, r.app_version]));
}

/** Marks running runs ready (keeping the earlier ready_at of a run already ready); returns their ids. */
export async function markReady(db: Db, ids: Iterable<string>): Promise<string[]> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return [];
  const { rows } = await sql<{ id: string }>`
    UPDATE runs SET ready = true, ready_at = CASE WHEN ready THEN ready_at ELSE now() END, updated_at = now()
    WHERE id = ANY(${unique}::uuid[]) AND status = 'running'
    RETURNING id`.execute(db);
  return rows.map((r) => r.id);
}

/** Bumps updated_at so that watchers and lists see a change that only touched steps. */
export async function touchRuns(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await sql`UPDATE runs SET updated_at = now() WHERE id = ANY(${[...ids]}::uuid[])`.execute(db);
}

/**
 * Locks runs in id order. Every transaction that changes both a run and its steps takes the run
 * locks first, in this order, so that result recording, turn commits and timers cannot deadlock.
 * In a transaction the lock goes out with the statement after it (UNAWAITED): one round trip.
 */
export async function lockRuns(db: Db, ids: Iterable<string>): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return;
  await sql`${sql.raw(UNAWAITED)}SELECT id FROM runs WHERE id = ANY(${unique}::uuid[]) ORDER BY id FOR UPDATE`.execute(
    db,
  );
}

/** Locks the runs of the given steps in id order (see lockRuns). */
export async function lockRunsOfSteps(db: Db, stepIds: readonly string[]): Promise<void> {
  if (stepIds.length === 0) return;
  await sql`${sql.raw(UNAWAITED)}
    SELECT id FROM runs WHERE id = ANY(ARRAY(SELECT run_id FROM steps WHERE id = ANY(${[...stepIds]}::uuid[])))
    ORDER BY id FOR UPDATE`.execute(db);
}
