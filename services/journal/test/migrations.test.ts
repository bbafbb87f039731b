// Migrations from parallel branches merge in any order: a database that already ran a
// higher-numbered migration still gets a lower-numbered one that merged later.

import { createTestDatabase, type TestDatabase } from "@weft/testkit";
import { type Kysely, sql } from "kysely";
import { Migrator } from "kysely/migration";
import { afterAll, beforeAll, expect, test } from "vitest";
import { migrate, openDatabase } from "../src/index.ts";
import { migrationProvider } from "../src/migrations/index.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase("journal unordered migrations");
});
afterAll(async () => {
  await database?.drop();
});

test("a database without 030-namespaces but with later migrations gets it", async () => {
  const db = openDatabase(database.url, 1);
  try {
    const all = await migrationProvider.getMigrations();
    // 090 builds on 030's namespace column, so it cannot have run before it.
    const withoutTenancy = Object.fromEntries(
      Object.entries(all).filter(([name]) => name !== "030-namespaces" && name !== "090-run-listing"),
    );
    const older = new Migrator({
      db: db as unknown as Kysely<unknown>,
      provider: { getMigrations: async () => withoutTenancy },
    });
    expect((await older.migrateToLatest()).error).toBeUndefined();
    await migrate(db);
    const { rows } = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db);
    expect(rows.map((r) => r.name)).toEqual(Object.keys(all).sort());
  } finally {
    await db.destroy();
  }
});
