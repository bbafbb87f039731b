// Batch statements stay linear in the batch however skewed the table's statistics. With most runs
// finished, the planner estimates `id = ANY($ids) AND status = 'running'` at about one row and
// then likes a nested loop that rescans the unnest of the batch for every row (quadratic). The
// statements of RecordResultBatch and CommitTurns run in batchTransaction; auto_explain (sent to
// this client as notices) shows that none of their plans nests loops or scans a whole table. The
// plain-transaction plans are reported beside them, not asserted: they are the planner's choice.
import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchTransaction, type Database, type Db, migrate } from "../src/db.ts";
import { endRuns } from "../src/store/run-end.ts";
import { claimRuns, fenceAndRelease, lockRunsOfSteps, markReadyTaking } from "../src/store/runs.ts";
import { currentSteps, recordResults, takeUndelivered } from "../src/store/steps.ts";

const FINISHED = 50_000;
const BATCH = 500;
/** Figures for the report (the test output), not assertions. */
const report = (text: string) => process.stdout.write(`${text}\n`);

let database: TestDatabase;
let pool: pg.Pool;
let db: Db;
/** Plans auto_explain sent while `capture` was on, one string per statement. */
const plans: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase("journal batch plans");
  pool = new pg.Pool({ connectionString: database.url, max: 1 });
  pool.on("error", () => {});
  pool.on("connect", (client) =>
    client.on("notice", (n) => {
      if (n.message?.includes("Query Text:")) plans.push(n.message);
    }),
  );
  db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrate(db);
  // Finished runs (4 steps each) and BATCH running ones, each with one running step.
  await sql`
    INSERT INTO runs (id, workflow_name, status, shard, ready, ready_at, completed_at)
    SELECT md5('done' || i)::uuid, 'pipeline', 'completed', i % 16, false, NULL, now()
    FROM generate_series(1, ${FINISHED}) AS i`.execute(db);
  await sql`
    INSERT INTO steps (id, run_id, generation, seq, name, kind, status, shard, completion_order, delivered)
    SELECT md5('donestep' || i || '.' || s)::uuid, md5('done' || i)::uuid, 1, s, 'extract', 'action', 'completed',
           i % 16, nextval('completion_order_seq'), true
    FROM generate_series(1, ${FINISHED}) AS i, generate_series(1, 4) AS s`.execute(db);
  await sql`
    INSERT INTO runs (id, workflow_name, status, shard, ready, lease_owner, lease_expires, lease_token)
    SELECT md5('live' || i)::uuid, 'pipeline', 'running', i % 16, false, 'coordinator-1', now() + interval '1 hour', 1
    FROM generate_series(1, ${BATCH}) AS i`.execute(db);
  await sql`
    INSERT INTO steps (id, run_id, generation, seq, name, kind, status, shard, dispatched_at)
    SELECT md5('livestep' || i)::uuid, md5('live' || i)::uuid, 1, 1, 'extract', 'action', 'running', i % 16, now()
    FROM generate_series(1, ${BATCH}) AS i`.execute(db);
  await sql`ANALYZE runs`.execute(db);
  await sql`ANALYZE steps`.execute(db);
  await sql.raw("LOAD 'auto_explain'").execute(db);
  await sql.raw("SET auto_explain.log_min_duration = 0").execute(db);
  await sql.raw("SET auto_explain.log_level = notice").execute(db);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

async function ids(prefix: string): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    SELECT md5(${prefix} || i)::uuid::text AS id FROM generate_series(1, ${BATCH}) AS i`.execute(db);
  return rows.map((r) => r.id);
}

/** One RecordResultBatch's and one CommitTurns' statements over the BATCH running runs. */
async function batchStatements(trx: Db, runIds: string[], stepIds: string[]) {
  await lockRunsOfSteps(trx, stepIds);
  const recorded = await recordResults(
    trx,
    stepIds.map((stepId) => ({
      stepId,
      generation: 1,
      status: "completed" as const,
      result: Buffer.from("1"),
      error: null,
      attempt: 1,
      startedAt: null,
      finishedAt: null,
    })),
  );
  const marked = await markReadyTaking(trx, runIds, new Map());
  const fenced = await fenceAndRelease(
    trx,
    "coordinator-1",
    runIds.map((runId) => ({ runId, token: 1n })),
  );
  const ended = await endRuns(
    trx,
    runIds.map((runId) => ({ runId, status: "completed" as const, result: Buffer.from("1"), error: null })),
  );
  return { recorded: recorded.length, marked: marked.length, fenced: fenced.length, ended: ended.ended.length };
}

/** The statements' plans as auto_explain sent them (query text, then plan), BEGIN and SET left out. */
function takePlans(): { statement: string; plan: string }[] {
  return plans
    .splice(0)
    .map((plan) => ({ statement: (plan.split("Query Text:")[1] ?? "").replace(/\s+/g, " ").trim().slice(0, 60), plan }))
    .filter((p) => !/^(BEGIN|COMMIT|ROLLBACK|SET)\b/i.test(p.statement));
}

describe("batch statements under skewed statistics", () => {
  it("plan without nested loops in batchTransaction", async () => {
    const runIds = await ids("live");
    const stepIds = await ids("livestep");

    // The same statements in a plain transaction, rolled back: reported for comparison.
    plans.length = 0;
    const rollback = new Error("rollback");
    await db
      .transaction()
      .execute(async (trx) => {
        await batchStatements(trx, runIds, stepIds);
        throw rollback;
      })
      .catch((err) => {
        if (err !== rollback) throw err;
      });
    for (const { statement, plan } of takePlans()) {
      report(`plain transaction: ${statement}… ${/Nested Loop/.test(plan) ? "nested loop" : "no nested loop"}`);
    }

    const counts = await batchTransaction(db, (trx) => batchStatements(trx, runIds, stepIds));
    expect(counts).toEqual({ recorded: BATCH, marked: BATCH, fenced: BATCH, ended: BATCH });
    const batchPlans = takePlans();
    expect(batchPlans.length).toBeGreaterThanOrEqual(5);
    for (const { statement, plan } of batchPlans) {
      report(`batchTransaction: ${statement}…\n${plan.replace(/'\{[^}]*\}'/g, "'{…}'")}\n`);
      expect(plan, statement).not.toMatch(/Nested Loop/);
      expect(plan, statement).not.toMatch(/Seq Scan on (runs|steps)/);
    }
    // The setting ends with the transaction: the pooled connection plans as before.
    const { rows } = await sql<{ enable_nestloop: string }>`SHOW enable_nestloop`.execute(db);
    expect(rows[0]?.enable_nestloop).toBe("on");
  });

  it("rolls back everything when the work fails, and reports an aborted transaction", async () => {
    const finished = sql<{ n: number }>`SELECT count(*)::int AS n FROM runs WHERE status = 'completed'`;
    const before = await finished.execute(db);
    expect(before.rows[0]?.n).toBe(FINISHED + BATCH);
    await expect(
      batchTransaction(db, async (trx) => {
        await sql`UPDATE runs SET status = 'failed' WHERE status = 'completed'`.execute(trx);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    await expect(
      batchTransaction(db, async (trx) => {
        await sql`UPDATE runs SET status = 'failed' WHERE status = 'completed'`.execute(trx);
        // A failed statement whose error the work swallows leaves the transaction aborted.
        await sql`SELECT 1 / 0`.execute(trx).catch(() => {});
      }),
    ).rejects.toThrow("aborted");
    expect((await finished.execute(db)).rows[0]?.n).toBe(FINISHED + BATCH);
  });
});

describe("ClaimRuns under a backlog", () => {
  it("reads only the runs it takes: expired leases first, then the oldest ready", async () => {
    const WAITING = 5_000;
    await sql`
      INSERT INTO runs (id, workflow_name, status, shard, ready, ready_at)
      SELECT md5('waiting' || i)::uuid, 'pipeline', 'running', i % 16, true, now() - (${WAITING} - i) * interval '1 ms'
      FROM generate_series(1, ${WAITING}) AS i`.execute(db);
    await sql`
      INSERT INTO runs (id, workflow_name, status, shard, ready, ready_at, lease_owner, lease_expires, lease_token)
      SELECT md5('expired' || i)::uuid, 'pipeline', 'running', i % 16, false, now(), 'gone', now() - interval '1 s', 1
      FROM generate_series(1, 3) AS i`.execute(db);
    await sql`ANALYZE runs`.execute(db);
    await sql.raw("SET auto_explain.log_analyze = on").execute(db);
    plans.length = 0;
    const claimed = await claimRuns(db, "coordinator-2", 10, 30_000, []).finally(() =>
      sql.raw("SET auto_explain.log_analyze = off").execute(db),
    );
    const expired = (
      await sql<{ id: string }>`SELECT md5('expired' || i)::uuid::text AS id FROM generate_series(1, 3) AS i`.execute(
        db,
      )
    ).rows.map((r) => r.id);
    const oldest = (
      await sql<{ id: string }>`SELECT md5('waiting' || i)::uuid::text AS id FROM generate_series(1, 7) AS i`.execute(
        db,
      )
    ).rows.map((r) => r.id);
    // Oldest ready first: the seven oldest waiting in order, then the expired leases (ready since now).
    expect(claimed.slice(0, 7).map((r) => r.id)).toEqual(oldest);
    expect(
      claimed
        .slice(7)
        .map((r) => r.id)
        .sort(),
    ).toEqual([...expired].sort());
    expect(claimed.every((r) => r.lease_owner === "coordinator-2" && r.claims === 1 && r.args === null)).toBe(true);
    const stillReady = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM runs WHERE id = ANY(${claimed.map((r) => r.id)}::uuid[]) AND ready`.execute(db);
    expect(stillReady.rows[0]?.n).toBe(0);
    // Each branch is an index scan that stops at what it takes: no bitmap of every waiting run,
    // no sort of them.
    const [claim] = takePlans();
    report(`claimRuns:\n${claim?.plan}\n`);
    expect(claim?.plan).toMatch(/Index Scan using runs_ready/);
    expect(claim?.plan).toMatch(/Index Scan using runs_leased/);
    // The only sort is of the ten leased rows, to return them oldest first.
    expect(claim?.plan).not.toMatch(/Sort Key: runs(_\d+)?\.ready_at/);
    const scanned = [
      ...(claim?.plan ?? "").matchAll(
        /(?:Index|Bitmap Heap) Scan (?:using \S+ )?on runs\b[^\n]*actual [^\n]*rows=(\d+)/g,
      ),
    ].map((m) => Number(m[1]));
    expect(scanned.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...scanned)).toBeLessThanOrEqual(10);
  });
});

describe("claims on a young table without statistics", () => {
  it("find journals and undelivered outcomes by index in batchTransaction, not by scanning steps", async () => {
    // A fresh deployment's first burst: steps has grown, but autovacuum has not analyzed it yet, so
    // Postgres estimates `run_id = ANY($ids)` at its default selectivity (most of the table).
    const young = await createTestDatabase("journal young stats");
    const youngPool = new pg.Pool({ connectionString: young.url, max: 1 });
    youngPool.on("error", () => {});
    const youngPlans: string[] = [];
    youngPool.on("connect", (client) =>
      client.on("notice", (n) => {
        if (n.message?.includes("Query Text:")) youngPlans.push(n.message);
      }),
    );
    const ydb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: youngPool }) });
    try {
      await migrate(ydb);
      await sql`ALTER TABLE steps SET (autovacuum_enabled = false)`.execute(ydb);
      await sql`ALTER TABLE runs SET (autovacuum_enabled = false)`.execute(ydb);
      await sql`
        INSERT INTO runs (id, workflow_name, status, shard, ready, claims)
        SELECT md5('young' || i)::uuid, 'pipeline', 'running', i % 16, false, 2
        FROM generate_series(1, 20000) AS i`.execute(ydb);
      await sql`
        INSERT INTO steps (id, run_id, generation, seq, name, kind, status, shard, completion_order, delivered)
        SELECT md5('youngstep' || i || '.' || s)::uuid, md5('young' || i)::uuid, 1, s, 'extract', 'action',
               'completed', i % 16, nextval('completion_order_seq'), s < 3
        FROM generate_series(1, 20000) AS i, generate_series(1, 3) AS s`.execute(ydb);
      await sql.raw("LOAD 'auto_explain'").execute(ydb);
      await sql.raw("SET auto_explain.log_min_duration = 0").execute(ydb);
      await sql.raw("SET auto_explain.log_level = notice").execute(ydb);
      const runIds = (
        await sql<{ id: string }>`SELECT md5('young' || i)::uuid::text AS id FROM generate_series(1, 256) AS i`.execute(
          ydb,
        )
      ).rows.map((r) => r.id);
      youngPlans.length = 0;
      const read = await batchTransaction(ydb, (trx) => currentSteps(trx, runIds));
      expect(read).toHaveLength(256 * 3);
      const [journals] = youngPlans.filter((plan) => plan.includes("SELECT s.* FROM steps s"));
      report(`young table, ReadJournals:\n${journals?.replace(/'\{[^}]*\}'/g, "'{…}'")}\n`);
      expect(journals).toBeDefined();
      expect(journals).not.toMatch(/Seq Scan on steps/);
      const taken = await batchTransaction(ydb, (trx) => takeUndelivered(trx, runIds, runIds.slice(0, 16)));
      // Every run's third outcome was undelivered; the 16 full claims also carry their first two.
      expect(taken).toHaveLength(256 + 16 * 2);
      const [claim] = youngPlans.filter((plan) => plan.includes("WITH taken AS"));
      report(`young table, claim:\n${claim?.replace(/'\{[^}]*\}'/g, "'{…}'")}\n`);
      expect(claim).toBeDefined();
      expect(claim).not.toMatch(/Seq Scan on steps/);
    } finally {
      await ydb.destroy();
      await young.drop();
    }
  });
});
