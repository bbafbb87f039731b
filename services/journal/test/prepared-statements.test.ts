// The journal's connections prepare their parameterized statements (named statements): Postgres
// parses and plans each once per connection instead of on every execution. Statements without
// parameters (BEGIN, SET) stay unnamed. A table that gains a column under a prepared `SELECT *`
// fails that statement once; the next execution prepares it afresh and sees the column.
import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { batchTransaction, type Db, openDatabase } from "../src/db.ts";

let database: TestDatabase;
let db: Db;
beforeAll(async () => {
  database = await createTestDatabase("journal prepared statements");
  // One connection: the catalog view below shows that session's statements.
  db = openDatabase(database.url, 1);
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

it("prepares each parameterized statement once per connection and reuses it", async () => {
  const text = "SELECT $1::int + 1 AS n";
  for (const i of [1, 2, 3]) {
    const { rows } = await sql<{ n: number }>`SELECT ${i}::int + 1 AS n`.execute(db);
    expect(rows[0]?.n).toBe(i + 1);
  }
  await sql`SELECT 'unparameterized'`.execute(db);
  const { rows } = await sql<{ name: string; statement: string }>`
    SELECT name, statement FROM pg_prepared_statements WHERE NOT from_sql`.execute(db);
  const mine = rows.filter((r) => r.statement === text);
  expect(mine).toHaveLength(1);
  expect(mine[0]?.name).toMatch(/^weft_\d+$/);
  expect(rows.some((r) => r.statement.includes("unparameterized"))).toBe(false);
  // The catalog query itself has no parameters: nothing else was prepared but what had some.
  expect(rows.every((r) => r.name.startsWith("weft_"))).toBe(true);
});

it("re-prepares a statement whose table changed shape under it", async () => {
  await sql`CREATE TABLE shaped (id int PRIMARY KEY)`.execute(db);
  await sql`INSERT INTO shaped VALUES (1)`.execute(db);
  const read = () => sql<Record<string, unknown>>`SELECT * FROM shaped WHERE id = ${1}`.execute(db);
  expect((await read()).rows).toEqual([{ id: 1 }]);
  await sql`ALTER TABLE shaped ADD COLUMN extra text DEFAULT 'x'`.execute(db);
  await expect(read()).rejects.toThrow(/cached plan must not change result type/);
  expect((await read()).rows).toEqual([{ id: 1, extra: "x" }]);
});

it("prepares nothing with WEFT_DB_PREPARED_STATEMENTS=false (a pooler that does not track them)", async () => {
  const plain = openDatabase(database.url, 1, { preparedStatements: false });
  try {
    await sql`SELECT ${1}::int AS n`.execute(plain);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_prepared_statements WHERE NOT from_sql`.execute(plain);
    expect(rows[0]?.n).toBe(0);
  } finally {
    await plain.destroy();
  }
});

it("prepares a text apart inside batch transactions, whose planner settings differ", async () => {
  const text = "SELECT $1::int * 3 AS n";
  const run = (db: Db) => sql<{ n: number }>`SELECT ${2}::int * 3 AS n`.execute(db);
  expect((await run(db)).rows[0]?.n).toBe(6);
  expect((await batchTransaction(db, run)).rows[0]?.n).toBe(6);
  expect((await run(db)).rows[0]?.n).toBe(6);
  const { rows } = await sql<{ name: string }>`
    SELECT name FROM pg_prepared_statements WHERE statement = ${text}`.execute(db);
  expect(rows).toHaveLength(2);
});
