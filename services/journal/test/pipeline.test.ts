// Pipelined connections (WEFT_DB_PIPELINE): a batch transaction's BEGIN and the lock statements
// marked UNAWAITED go out with the statement after them instead of waiting for their answers.
// Postgres still runs them one after the other, each with a snapshot of its own: a statement
// after a lock that had to wait reads what the lock holder committed. A failure of an unawaited
// statement reaches the caller from the statement after it, with its own message. The journal's
// own run locks (lockRuns, lockRunsOfSteps) are such statements.
import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchTransaction, type Db, migrate, openDatabase, UNAWAITED } from "../src/db.ts";
import { lockRuns, lockRunsOfSteps } from "../src/store/runs.ts";

const RUN = "01a21d00-0000-7000-8000-000000000001";
const STEP = "01a21d00-0000-7000-8000-000000000002";

let database: TestDatabase;
/** A plain connection that holds row locks while the journal's connections wait on them. */
let holder: pg.Client;
/** A plain connection that watches pg_stat_activity. */
let observer: pg.Client;
const WAITING_ON_LOCKS =
  "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = $1";
beforeAll(async () => {
  database = await createTestDatabase("journal pipeline");
  holder = new pg.Client({ connectionString: database.url });
  await holder.connect();
  observer = new pg.Client({ connectionString: database.url });
  await observer.connect();
  await holder.query("CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)");
  await holder.query("INSERT INTO counters VALUES (1, 0)");
  const setup = openDatabase(database.url, 1);
  try {
    await migrate(setup);
  } finally {
    await setup.destroy();
  }
  await holder.query("INSERT INTO runs (id, workflow_name, status, shard) VALUES ($1, 'pipeline', 'running', 0)", [
    RUN,
  ]);
  await holder.query(
    "INSERT INTO steps (id, run_id, generation, seq, name, kind, status, shard) VALUES ($1, $2, 1, 1, 'extract', 'action', 'running', 0)",
    [STEP, RUN],
  );
});
afterAll(async () => {
  await holder?.end();
  await observer?.end();
  await database?.drop();
});

const lock = (db: Db) => sql`${sql.raw(UNAWAITED)}SELECT id FROM counters WHERE id = ${1} FOR UPDATE`.execute(db);
const read = async (db: Db) =>
  (await sql<{ n: number }>`SELECT n FROM counters WHERE id = ${1}`.execute(db)).rows[0]?.n ?? Number.NaN;
const readClaims = async (db: Db) =>
  (await sql<{ n: number }>`SELECT claims AS n FROM runs WHERE id = ${RUN}`.execute(db)).rows[0]?.n ?? Number.NaN;
/** One of the journal's run locks, on the test's run (the holder bumps its claims). */
const runLock = (name: string, lock: (db: Db) => Promise<void>) => ({
  name,
  lock,
  read: readClaims,
  table: "runs",
  where: `id = '${RUN}'`,
  bump: "claims = claims + 1",
  column: "claims",
});

/** Row locks taken without waiting: the holder locks and bumps the row, the caller locks and reads it. */
const locks = [
  { name: "an UNAWAITED lock", lock, read, table: "counters", where: "id = 1", bump: "n = n + 1", column: "n" },
  runLock("lockRuns", (db) => lockRuns(db, [RUN])),
  runLock("lockRunsOfSteps", (db) => lockRunsOfSteps(db, [STEP])),
];

for (const pipeline of [true, false]) {
  describe(`WEFT_DB_PIPELINE=${pipeline}`, () => {
    let db: Db;
    beforeAll(() => {
      db = openDatabase(database.url, 1, { pipeline });
    });
    afterAll(async () => {
      await db?.destroy();
    });

    for (const l of locks) {
      it(`${l.name} that waits ${pipeline ? "does not hold up the caller, and" : "holds up the caller;"} the statement after it reads what the holder committed`, async () => {
        await holder.query("BEGIN");
        let holding = true;
        try {
          await holder.query(`SELECT 1 FROM ${l.table} WHERE ${l.where} FOR UPDATE`);
          let lockAnswered = false;
          const seen = batchTransaction(db, async (trx) => {
            await l.lock(trx);
            lockAnswered = true;
            return l.read(trx);
          });
          // The journal's connection now waits on the row lock in Postgres.
          // (Asked on another connection: the holder's transaction sees pg_stat_activity as it was
          // when it first read it.)
          await expect.poll(async () => (await observer.query(WAITING_ON_LOCKS, [database.name])).rows[0].n).toBe(1);
          expect(lockAnswered).toBe(pipeline);
          const before = (await holder.query(`SELECT ${l.column} AS n FROM ${l.table} WHERE ${l.where}`)).rows[0]
            .n as number;
          await holder.query(`UPDATE ${l.table} SET ${l.bump} WHERE ${l.where}`);
          await holder.query("COMMIT");
          holding = false;
          // Read after the lock was granted: the holder's update, not the snapshot of the time it was sent.
          expect(await seen).toBe(before + 1);
          expect(lockAnswered).toBe(true);
        } finally {
          if (holding) await holder.query("ROLLBACK");
        }
      });
    }

    for (const last of [false, true]) {
      it(`a failed unawaited statement ${last ? "last in the transaction fails its COMMIT" : "fails the statement after it"} with its own error, and nothing it did stays`, async () => {
        const before = await read(db);
        await expect(
          batchTransaction(db, async (trx) => {
            await sql`UPDATE counters SET n = n + 100 WHERE id = ${1}`.execute(trx);
            await sql`${sql.raw(UNAWAITED)}SELECT id / ${0}::int FROM counters`.execute(trx);
            return last ? Number.NaN : read(trx);
          }),
        ).rejects.toThrow(/division by zero/);
        expect(await read(db)).toBe(before);
        // The connection is clean for the next transaction.
        expect(await batchTransaction(db, (trx) => read(trx))).toBe(before);
      });
    }

    it("outside a transaction an UNAWAITED statement is awaited like any other", async () => {
      await expect(sql`${sql.raw(UNAWAITED)}SELECT ${1}::int / 0 AS x`.execute(db)).rejects.toThrow(/division by zero/);
      const { rows } = await sql<{ x: number }>`${sql.raw(UNAWAITED)}SELECT ${6}::int AS x`.execute(db);
      expect(rows).toEqual([{ x: 6 }]);
    });
  });
}
