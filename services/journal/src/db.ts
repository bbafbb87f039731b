// The journal's Postgres connection (kysely over a pg pool), its row types and migrations.

import type { Socket } from "node:net";
import { Kysely, PostgresDialect, sql } from "kysely";
import { Migrator } from "kysely/migration";
import pg from "pg";
import { migrationProvider } from "./migrations/index.ts";
import { databaseAttributes, recordStatementSpan } from "./telemetry.ts";
import { journalTypes } from "./timestamps.ts";
import { uuidArray } from "./uuid-array.ts";

export type RunStatusText = "running" | "completed" | "failed" | "canceled";
export type StepKindText = "query" | "mutation" | "action" | "sleep" | "event" | "child" | "on_complete" | "patch";

/** A failure as stored in `error` jsonb columns. */
export interface StoredFailure {
  name: string;
  message: string;
  stack?: string;
  /** JSON text of the details. */
  details?: string;
}

export interface RunRow {
  id: string;
  workflow_name: string;
  status: RunStatusText;
  args: Buffer | null;
  result: Buffer | null;
  error: StoredFailure | null;
  idempotency_key: string | null;
  parent_run_id: string | null;
  parent_seq: number | null;
  generation: number;
  shard: number;
  ready: boolean;
  ready_at: Date | null;
  lease_owner: string | null;
  lease_expires: Date | null;
  /** bigint arrives as a string. */
  lease_token: string;
  traceparent: string | null;
  app_version: string | null;
  /** Claims (leases) of the current generation so far. */
  claims: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  /** Tenancy; a child run inherits its parent's (a trigger, migration 030). */
  namespace: string;
}

export interface StepRow {
  id: string;
  run_id: string;
  generation: number;
  seq: number;
  name: string;
  kind: StepKindText;
  status: RunStatusText;
  args: Buffer | null;
  result: Buffer | null;
  error: StoredFailure | null;
  attempt: number;
  wake_at: Date | null;
  timeout_at: Date | null;
  event_name: string | null;
  child_workflow_name: string | null;
  child_run_id: string | null;
  completion_order: string | null;
  dispatch: number;
  dispatched_at: Date | null;
  heartbeat_at: Date | null;
  shard: number;
  traceparent: string | null;
  /** A claim has delivered this step's outcome to a coordinator. */
  delivered: boolean;
  created_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

export interface EventRow {
  id: string;
  run_id: string;
  name: string;
  payload: Buffer | null;
  created_at: Date;
  consumed_by_seq: number | null;
}

type Defaulted<T, K extends keyof T> = Omit<T, K> & { [P in K]?: T[P] };

export interface Database {
  runs: Defaulted<
    RunRow,
    "generation" | "ready" | "ready_at" | "lease_token" | "created_at" | "updated_at" | "completed_at"
  >;
  steps: Defaulted<StepRow, "attempt" | "dispatch" | "created_at">;
  events: Defaulted<EventRow, "created_at">;
  /** Written by triggers on runs (migration 090): the newest-first listing, one row per run. */
  run_listing: { namespace: string; created_at: Date; id: string };
  workflow_defs: { name: string; has_on_complete: boolean; app_version: string | null; updated_at?: Date };
  shard_leases: { shard: number; owner: string | null; token: string; expires_at: Date | null };
  executors: { id: string; last_seen: Date };
  workflow_versions: { workflow_name: string; app_version: string; first_seen?: Date };
  coordinators: { id: string; app_version: string; last_seen: Date };
}

export type Db = Kysely<Database>;

/** BEGIN of a batch transaction with its planner settings (one round trip). */
const BATCH_BEGIN =
  "BEGIN; SET LOCAL enable_nestloop = off; SET LOCAL enable_seqscan = off; SET LOCAL random_page_cost = 1.1";

/** The journal's statement texts, each with the name it is prepared under on every connection. */
const preparedNames = new Map<string, string>();
/**
 * A bound on the texts prepared: the journal's statements are a few dozen shapes, and one built
 * with inlined values must not fill every connection with prepared statements.
 */
const MAX_PREPARED = 500;
let preparedCount = 0;

/** The parameters each statement text casts `::uuid[]` (0-based), cached like the prepared names. */
const uuidArrayParams = new Map<string, readonly number[]>();
const UUID_ARRAY_PARAM = /\$(\d+)::uuid\[\]/g;

/**
 * The values with every parameter the text casts `$n::uuid[]` in Postgres's binary array format
 * (uuid-array.ts), so that no statement has to ask for it: ids, sets of ids, nulls among them.
 */
function withBinaryUuidArrays(text: string, values: unknown[]): unknown[] {
  let positions = uuidArrayParams.get(text);
  if (positions === undefined) {
    positions = [...new Set(Array.from(text.matchAll(UUID_ARRAY_PARAM), (m) => Number(m[1]) - 1))];
    if (uuidArrayParams.size < MAX_PREPARED) uuidArrayParams.set(text, positions);
  }
  if (positions.length === 0) return values;
  const out = values.slice();
  for (const i of positions) {
    const value = out[i];
    if (typeof value === "object" && value !== null && !Buffer.isBuffer(value) && Symbol.iterator in value) {
      out[i] = uuidArray(value as Iterable<string | null>);
    }
  }
  return out;
}

/**
 * Postgres refuses to run a prepared `SELECT *` or `RETURNING *` whose table gained or lost a
 * column since (a migration while the journal runs): the statement fails, and its text gets a new
 * name, which every connection prepares afresh on its next use.
 */
const STALE_PLAN = /cached plan must not change result type/;

/**
 * Marks a statement whose answer nobody reads (a lock taken for its side effect): inside a
 * transaction on a pipelined connection it is sent without waiting for its answer, and goes out
 * in one write with the statement after it. Postgres still runs the two one after the other, each
 * under a snapshot of its own, so the second reads what the lock waited for, as it would after a
 * round trip. A failure of the unawaited statement is thrown by the statement after it (which
 * Postgres refuses anyway, the transaction being aborted), so the caller sees the real cause.
 */
export const UNAWAITED = "/* unawaited */ ";

/** What an unawaited statement answers at once (kysely reads these three fields). */
const UNAWAITED_RESULT = Object.freeze({ command: "SELECT", rowCount: 0, rows: [] });

const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;
const TRANSACTION_END = /^\s*(commit|rollback|end)\b/i;
const ROLLBACK = /^\s*rollback\b/i;

interface ConnectionOptions {
  /** Named prepared statements (WEFT_DB_PREPARED_STATEMENTS). */
  prepared: boolean;
  /** Pipelined connection (WEFT_DB_PIPELINE): BEGIN and UNAWAITED statements do not wait. */
  pipeline: boolean;
}

/**
 * Wraps a pooled connection's `query`:
 * - Prepared statements: every parameterized statement is a named prepared statement. Postgres
 *   parses it once per connection and keeps its plan (plan_cache_mode auto), instead of parsing
 *   and planning each execution. Planning the journal's joins took 0.5-0.9 ms a statement here,
 *   more than executing one of them for a single run.
 * - Pipelining: a batch transaction's BEGIN and the UNAWAITED statements inside a transaction go
 *   out with the statement after them, one round trip for all. Every round trip to Postgres
 *   costs both processes a write and a wake-up, which on this machine are most of an idle
 *   transaction's time.
 */
function extendConnection(client: pg.PoolClient, options: ConnectionOptions): void {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  // Postgres keeps a prepared statement's generic plan whatever the planner settings of a later
  // execution: a text runs under one name inside batch transactions (nested loops off) and under
  // another outside, so neither context executes a plan made for the other.
  let batch = false;
  let inTransaction = false;
  /** Resolves to the first failure of the statements sent without waiting (or undefined). */
  let unawaited: Promise<unknown> | undefined;
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    stream?.uncork();
  };

  const execute = (text: string, raw: unknown): Promise<unknown> => {
    if (!Array.isArray(raw) || raw.length === 0) return query(text, raw);
    const values = withBinaryUuidArrays(text, raw);
    if (!options.prepared) return query(text, values);
    const key = batch ? `batch\u0000${text}` : text;
    let name = preparedNames.get(key);
    if (name === undefined && preparedNames.size < MAX_PREPARED) {
      name = `weft_${preparedCount++}`;
      preparedNames.set(key, name);
    }
    if (name === undefined) return query(text, values);
    return query({ name, text, values }).catch((err: unknown) => {
      if (STALE_PLAN.test((err as Error).message ?? "") && preparedNames.get(key) === name) {
        preparedNames.set(key, `weft_${preparedCount++}`);
      }
      throw err;
    });
  };

  (client as { query: unknown }).query = (text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== "string" || callback !== undefined || typeof values === "function") {
      return query(text, values, callback);
    }
    const starts = TRANSACTION_START.test(text);
    const ends = !starts && TRANSACTION_END.test(text);
    if (text === BATCH_BEGIN) batch = true;
    else if (ends) batch = false;
    const wait = !options.pipeline || !(text === BATCH_BEGIN || (inTransaction && text.startsWith(UNAWAITED)));
    if (starts) inTransaction = true;
    else if (ends) inTransaction = false;

    if (!wait) {
      // Held in the socket's buffer until the next statement joins it (or the loop turns).
      if (!corked && stream) {
        corked = true;
        stream.cork();
        setImmediate(uncork);
      }
      const failure = execute(text, values).then(
        () => undefined,
        (err: unknown) => err,
      );
      const before = unawaited;
      unawaited = before ? before.then((err) => err ?? failure) : failure;
      return Promise.resolve(UNAWAITED_RESULT);
    }
    const answer = execute(text, values);
    uncork();
    const before = unawaited;
    unawaited = undefined;
    // ROLLBACK discards the failure along with the transaction.
    if (before === undefined || ROLLBACK.test(text)) return answer;
    return answer.then(
      async (result) => {
        const err = await before;
        if (err !== undefined) throw err;
        return result;
      },
      async (err: unknown) => {
        throw (await before) ?? err;
      },
    );
  };
}

export interface DatabaseOptions {
  /** Called with every SQL statement (tests count statements per RPC). */
  onQuery?: (sql: string) => void;
  /** A connection Postgres dropped while idle (the pool reconnects). */
  onIdleError?: (err: Error) => void;
  /** Named prepared statements (WEFT_DB_PREPARED_STATEMENTS); default true. */
  preparedStatements?: boolean;
  /** Pipelined statements in transactions (WEFT_DB_PIPELINE); default true. */
  pipeline?: boolean;
}

/** A kysely database over a pg pool; every statement run under a traced call gets a CLIENT span. */
export function openDatabase(url: string, poolSize: number, options: DatabaseOptions = {}): Db {
  const { onQuery, onIdleError, preparedStatements = true, pipeline = true } = options;
  const attributes = databaseAttributes(url);
  // `pipeline` (pg 8.23): statements issued before the previous one answered go out at once.
  // `types`: timestamptz read by position rather than by pg's regular expressions (timestamps.ts).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, pipeline, types: journalTypes } as pg.PoolConfig);
  // A connection that Postgres dropped (a restart, a failover) is an 'error' event on the pool
  // (idle client) or on the client (checked out, between statements); unhandled, either would end
  // the process. The statement in flight fails, the pool discards the broken client, and the next
  // query opens a new connection.
  pool.on("error", (err) => onIdleError?.(err));
  pool.on("connect", (client) => {
    client.on("error", (err) => onIdleError?.(err));
    extendConnection(client, { prepared: preparedStatements, pipeline });
  });
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === "query") onQuery?.(event.query.sql);
      recordStatementSpan(
        attributes,
        event.query.sql,
        event.queryDurationMillis,
        event.level === "error" ? event.error : undefined,
      );
    },
  });
}

/**
 * A transaction of batch statements: every statement reaches its rows through `id = ANY($ids)`
 * and joins them to `unnest(...)` of the batch. Nested loops are off inside it, so each join is a
 * hash join, linear in the batch whatever the planner believes. The planner estimates
 * `id = ANY($ids) AND status = 'running'` as the share of running rows in the table, which is
 * about one row when most runs have finished, and then picks a nested loop that rescans the
 * unnest for every row: quadratic in the batch (500 rows took 113 ms instead of 5). Random page
 * reads are costed as the cached reads they are (1.1, not 4), so the rows of a batch come from an
 * index rather than a scan of the table. Sequential scans are off too: on a young table that
 * autovacuum has not analyzed yet, `run_id = ANY($ids)` is estimated at most of the table and
 * the claim's search for undelivered outcomes scanned all of steps. BEGIN and the settings go in
 * one round trip.
 */
export async function batchTransaction<T>(db: Db, fn: (trx: Db) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql.raw(BATCH_BEGIN).execute(conn);
    let result: T;
    try {
      result = await fn(conn);
    } catch (err) {
      // A failed ROLLBACK means a broken connection, which the pool drops when it is released.
      await sql
        .raw("ROLLBACK")
        .execute(conn)
        .catch(() => {});
      throw err;
    }
    const { rows } = await sql.raw<{ command?: string }>("COMMIT").execute(conn);
    // Postgres answers COMMIT of an aborted transaction with ROLLBACK (kysely surfaces the tag).
    if (rows[0]?.command === "ROLLBACK") throw new Error("the transaction was aborted and rolled back");
    return result;
  });
}

/**
 * For a journal that runs as a least-privilege role (WEFT_MIGRATE_ON_START=false): checks, with
 * reads only, that every migration this build knows has been applied by the migration owner.
 */
export async function requireMigrated(db: Db): Promise<void> {
  const wanted = Object.keys(await migrationProvider.getMigrations());
  let applied: string[];
  try {
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
    applied = rows.map((r) => r.name);
  } catch (err) {
    throw new Error(`the database has no migrations applied (${(err as Error).message}); run the migrate job first`, {
      cause: err,
    });
  }
  const missing = wanted.filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new Error(
      `the database lacks migrations ${missing.join(", ")}; run the migrate job (as the owner role) first`,
    );
  }
}

/** A role name safe to splice into GRANT statements. */
const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Grants the journal's runtime role exactly what it needs on the tables the migrations made:
 * SELECT/INSERT/UPDATE/DELETE on the journal's tables, USAGE/SELECT on its sequences, SELECT on
 * the migration bookkeeping (to check the schema is current). No DDL, no TRUNCATE, no ownership.
 * Run by the migration owner after migrating (migrate.ts with WEFT_DATABASE_RUNTIME_ROLE).
 */
export async function grantRuntimeRole(db: Db, role: string): Promise<void> {
  if (!ROLE.test(role)) throw new Error(`WEFT_DATABASE_RUNTIME_ROLE: "${role}" is not a plain lowercase role name`);
  const r = sql.id(role);
  await sql`GRANT USAGE ON SCHEMA public TO ${r}`.execute(db);
  const { rows } = await sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`.execute(db);
  for (const { name } of rows) {
    const table = sql.id(name);
    if (name.startsWith("kysely_migration")) await sql`GRANT SELECT ON ${table} TO ${r}`.execute(db);
    else await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${r}`.execute(db);
  }
  await sql`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`.execute(db);
}

/** Runs every pending migration; throws with the failing migration's name. */
export async function migrate(db: Db): Promise<void> {
  // Branches number their migrations in separate ranges (020-, 070-, ...) and merge in any order:
  // a database that already ran a later number still takes an earlier one that arrives after it.
  const migrator = new Migrator({
    db: db as unknown as Kysely<unknown>,
    provider: migrationProvider,
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`migration ${failed?.migrationName ?? "(unknown)"} failed: ${reason}`, { cause: error });
  }
}
