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

test("the runs listing (090) follows every INSERT, DELETE and TRUNCATE of runs, children in their parent's namespace", async () => {
  const db = openDatabase(database.url, 1);
  try {
    await migrate(db);
    await sql`TRUNCATE runs, steps, events`.execute(db);
    const listing = async () =>
      (
        await sql<{ namespace: string; id: string; same: boolean }>`
          SELECT l.namespace, l.id, r.created_at = l.created_at AS same
          FROM run_listing l LEFT JOIN runs r ON r.id = l.id ORDER BY l.id`.execute(db)
      ).rows;
    await sql`
      INSERT INTO runs (id, workflow_name, status, shard, namespace)
      SELECT md5('run' || i)::uuid, 'w', 'running', 0, 'team-' || i FROM generate_series(1, 3) i`.execute(db);
    // A child inherits its parent's namespace (a BEFORE trigger); the listing sees the result.
    await sql`
      INSERT INTO runs (id, workflow_name, status, shard, parent_run_id, parent_seq)
      VALUES (md5('child')::uuid, 'w', 'running', 0, md5('run2')::uuid, 1)`.execute(db);
    const rows = await listing();
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.same)).toBe(true);
    const { rows: child } = await sql<{ namespace: string }>`
      SELECT namespace FROM run_listing WHERE id = md5('child')::uuid`.execute(db);
    expect(child[0]?.namespace).toBe("team-2");
    await sql`DELETE FROM runs WHERE id IN (md5('run1')::uuid, md5('child')::uuid)`.execute(db);
    expect((await listing()).map((r) => r.namespace).sort()).toEqual(["team-2", "team-3"]);
    await sql`TRUNCATE runs, steps, events`.execute(db);
    expect(await listing()).toEqual([]);
  } finally {
    await db.destroy();
  }
});
