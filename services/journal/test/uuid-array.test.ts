import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Db, openDatabase } from "../src/db.ts";
import { uuidArray } from "../src/uuid-array.ts";

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
      // `::text[]::uuid[]`: the text form, which the connection leaves as it is, read by Postgres.
      const { rows } = await sql<{ n: number; same: boolean }>`
        SELECT cardinality(${uuidArray(list)}::uuid[]) AS n,
               ${uuidArray(list)}::uuid[] IS NOT DISTINCT FROM ${list}::text[]::uuid[] AS same`.execute(db);
      expect(rows[0]?.n).toBe(list.length);
      expect(rows[0]?.same).toBe(true);
    }
  });

  test("the journal's connections send every `::uuid[]` parameter so, arrays and sets alike, in ANY and unnest", async () => {
    const { rows } = await sql<{ id: string; same: boolean }>`
      SELECT id, ${ids}::uuid[] = ${ids}::text[]::uuid[] AS same
      FROM unnest(${ids}::uuid[]) WITH ORDINALITY AS t(id, i)
      WHERE id = ANY(${new Set(ids.slice(1))}::uuid[]) ORDER BY i`.execute(db);
    expect(rows.map((r) => r.id)).toEqual(ids.slice(1).map((id) => id.toLowerCase()));
    expect(rows.every((r) => r.same)).toBe(true);
    // A malformed id is refused before anything is sent (validation at the API refuses it first).
    await expect(sql`SELECT ${["not-a-uuid"]}::uuid[]`.execute(db)).rejects.toThrow(/not a uuid/);
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
