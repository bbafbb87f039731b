// The journal as a least-privilege Postgres role: an owner role runs the real migrate entry point
// (which grants the runtime role data access only); the journal then runs as the runtime role with
// WEFT_MIGRATE_ON_START=false and does a run's whole life, while every DDL statement of that role
// is refused. Both roles are unique to this test and dropped after it.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, JournalService, RunStatus, StepKind, TurnStatus, WorkflowService } from "@weft/contracts";
import { createLogger } from "@weft/runtime";
import { createTestEnvironment, isolatedName, type TestEnvironment, testAdminUrl } from "@weft/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type JournalConfig, type RunningJournal, startJournal } from "../src/index.ts";
import { eventually, testJournalConfig } from "./harness.ts";

const owner = isolatedName("lp owner");
const runtime = isolatedName("lp journal");
let env: TestEnvironment;
let journal: RunningJournal | undefined;
let runtimePool: pg.Pool;

const admin = async (text: string) => {
  const c = new pg.Client({ connectionString: testAdminUrl() });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
};
const urlAs = (role: string) => {
  const url = new URL(env.databaseUrl);
  url.username = role;
  return url.toString();
};

beforeAll(async () => {
  env = await createTestEnvironment("journal least privilege");
  await admin(`CREATE ROLE "${owner}" LOGIN`);
  await admin(`CREATE ROLE "${runtime}" LOGIN`);
  // The owner role owns the database (and so may create in its public schema); the runtime role
  // gets nothing here: migrate.ts grants it what it needs.
  const dbName = new URL(env.databaseUrl).pathname.slice(1);
  await admin(`ALTER DATABASE "${dbName}" OWNER TO "${owner}"`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL("../src/migrate.ts", import.meta.url))], {
      env: {
        ...process.env,
        WEFT_DATABASE_URL: urlAs(owner),
        WEFT_DATABASE_RUNTIME_ROLE: runtime,
        WEFT_LOG_LEVEL: "warn",
      },
      stdio: "inherit",
    });
    child.once("exit", resolve);
  });
  expect(code).toBe(0);
  runtimePool = new pg.Pool({ connectionString: urlAs(runtime), max: 1 });
});

/** Until the roles' backends are gone: a pool's end() returns before its sockets close. */
async function rolesDisconnected(): Promise<void> {
  const c = new pg.Client({ connectionString: testAdminUrl() });
  await c.connect();
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = ANY($1)", [
        [owner, runtime],
      ]);
      if (rows[0]?.n === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await c.end();
  }
}

afterAll(async () => {
  await journal?.stop();
  await runtimePool?.end();
  await rolesDisconnected();
  await env?.cleanup();
  await admin(`DROP ROLE IF EXISTS "${runtime}"`);
  await admin(`DROP ROLE IF EXISTS "${owner}"`);
});

/** The journal connected as the runtime role, which may not migrate (the migrate job did). */
function runtimeConfig(dbPoolSize: number): JournalConfig {
  return testJournalConfig(
    { ...env, databaseUrl: urlAs(runtime) },
    { shards: 2, maxPayloadBytes: 1 << 20, pageSizeMax: 100, dbPoolSize, migrateOnStart: false },
  );
}

describe("the journal's runtime role", () => {
  test("is refused every DDL statement and TRUNCATE", async () => {
    const refused = async (text: string) => {
      try {
        await runtimePool.query(text);
        return "allowed";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(await refused("CREATE TABLE intruder (a int)")).toMatch(/permission denied for schema public/);
    expect(await refused("ALTER TABLE runs ADD COLUMN intruder int")).toMatch(/must be owner of table runs/);
    expect(await refused("DROP TABLE steps")).toMatch(/must be owner of table steps/);
    expect(await refused("CREATE INDEX intruder ON runs (status)")).toMatch(/must be owner of table runs/);
    expect(await refused("TRUNCATE events")).toMatch(/permission denied for table events/);
    expect(await refused("DELETE FROM kysely_migration")).toMatch(/permission denied for table kysely_migration/);
    // What it may do: read and write rows.
    expect((await runtimePool.query("SELECT count(*)::int AS n FROM runs")).rows[0]).toEqual({ n: 0 });
  });

  test("runs the journal: start, claim, commit a step, record its result, complete, event, cancel", async () => {
    journal = await startJournal(runtimeConfig(2), { logger: createLogger("journal-least-privilege", "warn") });
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${journal.port}` });
    const workflows = createClient(WorkflowService, transport);
    const internal = createClient(JournalService, transport);
    await internal.registerWorker({ workerId: "w", workflows: [{ name: "pipeline" }] });

    const run = (await workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(1) })).run!;
    const claim = async () =>
      eventually(async () =>
        (await internal.claimRuns({ owner: "c", maxRuns: 10, leaseMs: 10_000 })).runs.find((r) => r.run?.id === run.id),
      );
    const first = await claim();
    const turn = await internal.commitTurns({
      owner: "c",
      turns: [
        {
          runId: run.id,
          leaseToken: first.leaseToken,
          generation: 1,
          newSteps: [{ seq: 1, name: "extract", kind: StepKind.ACTION }],
        },
      ],
    });
    expect(turn.results[0]?.status).toBe(TurnStatus.COMMITTED);
    const step = (await workflows.getHistory({ runId: run.id })).steps[0]!;
    await internal.recordResultBatch({
      executorId: "e",
      results: [
        {
          stepId: step.id,
          runId: run.id,
          generation: 1,
          attempt: 1,
          outcome: { case: "result", value: encodePayload(2) },
        },
      ],
    });
    const second = await claim();
    await internal.commitTurns({
      owner: "c",
      turns: [
        {
          runId: run.id,
          leaseToken: second.leaseToken,
          generation: 1,
          completion: { outcome: { case: "result", value: encodePayload(3) } },
        },
      ],
    });
    expect((await workflows.getWorkflow({ runId: run.id })).run?.status).toBe(RunStatus.COMPLETED);

    const other = (await workflows.startWorkflow({ workflowName: "pipeline" })).run!;
    await workflows.sendEvent({ runId: other.id, eventName: "go" });
    const canceled = await workflows.cancelWorkflow({ runId: other.id, reason: "done" });
    expect(canceled.run?.status).toBe(RunStatus.CANCELED);
  });

  test("a journal that should migrate but may not says so", async () => {
    // A schema behind this build: the runtime role cannot catch up, and the journal refuses to start.
    const c = new pg.Client({ connectionString: urlAs(owner) });
    await c.connect();
    await c.query("DELETE FROM kysely_migration WHERE name = '030-namespaces'");
    await c.end();
    await expect(
      startJournal(runtimeConfig(1), { logger: createLogger("journal-least-privilege", "silent") }),
    ).rejects.toThrow("the database lacks migrations 030-namespaces; run the migrate job (as the owner role) first");
  });
});
