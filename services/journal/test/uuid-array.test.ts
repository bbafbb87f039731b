import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Db, openDatabase } from "../src/db.ts";
import { uuidArray } from "../src/store/uuid-array.ts";

let database: TestDatabase;
let db: Db;
beforeAll(async () => {
  database = await createTestDatabase("journal uuid arrays");
  db = openDatabase(database.url, 1);
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

const ids = [
  "01a21ff9-96b2-7581-8ade-a442355aa088",
  "00000000-0000-0000-0000-000000000000",
  "FFFFFFFF-ABCD-ef01-2345-6789abcdef01",
];

describe("uuid[] parameters in binary", () => {
  test("Postgres reads the same ids, in order, nulls included, as from text", async () => {
    for (const list of [ids, [null, ids[0] as string, null], [], [ids[2] as string]]) {
      const { rows } = await sql<{ a: string[]; n: number; same: boolean }>`
        SELECT ${uuidArray(list)}::uuid[] AS a, cardinality(${uuidArray(list)}::uuid[]) AS n,
               ${uuidArray(list)}::uuid[] IS NOT DISTINCT FROM ${list}::uuid[] AS same`.execute(db);
      expect(rows[0]?.n).toBe(list.length);
      expect(rows[0]?.same).toBe(true);
    }
  });

  test("works where the journal uses it: ANY and unnest", async () => {
    const { rows } = await sql<{ id: string; i: string }>`
      SELECT id, i FROM unnest(${uuidArray(ids)}::uuid[]) WITH ORDINALITY AS t(id, i)
      WHERE id = ANY(${uuidArray(ids.slice(1))}::uuid[]) ORDER BY i`.execute(db);
    expect(rows.map((r) => r.id)).toEqual(ids.slice(1).map((id) => id.toLowerCase()));
  });

  test("accepts any iterable, and refuses what is not a canonical uuid before anything is sent", () => {
    expect(uuidArray(new Set(ids))).toEqual(uuidArray(ids));
    for (const bad of [
      "",
      "01a21ff9-96b2-7581-8ade-a442355aa08",
      "01a21ff996b275818adea442355aa0880000",
      "01a21ff9-96b2-7581-8ade-a442355aa08g",
    ]) {
      expect(() => uuidArray([bad])).toThrow(/not a uuid/);
    }
  });
});
