// A private Postgres database per test file, dropped (with FORCE) afterwards. An unreachable
// Postgres is an error that says so, never a skip.
import pg from "pg";
import { isolatedName } from "./names.ts";

export const testAdminUrl = () => process.env.WEFT_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testAdminUrl() });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `testkit: cannot reach Postgres at ${testAdminUrl()} (${(err as Error).message}); start it with ` +
        "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set WEFT_TEST_DATABASE_URL",
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(testName: string): Promise<TestDatabase> {
  const name = isolatedName(testName);
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(testAdminUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin(async (c) => {
        // A pg pool's end() resolves before its sockets close: wait (bounded) for the test's own
        // backends to go, so that FORCE does not kill a connection a client still listens on.
        for (let i = 0; i < 40; i++) {
          const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
          if (rows[0]?.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}
