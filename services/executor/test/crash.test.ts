// Crash and drain tests with the real journal (Postgres + JetStream) and executor processes
// started from main.ts: SIGKILL mid-batch loses nothing (unrecorded tasks come back and each step
// is recorded once); SIGTERM mid-batch finishes what it started and exits cleanly.
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodePayload, encodePayload, JournalService, StepKind, WorkerRole, WorkflowService } from "@weft/contracts";
import { type RunningJournal, startJournal } from "@weft/journal";
import { createLogger } from "@weft/runtime";
import { createTestEnvironment, type ServiceProcess, spawnService, type TestEnvironment } from "@weft/testkit";
import pg from "pg";
import { afterEach, expect, test } from "vitest";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const APP = new URL("./fixtures/app.ts", import.meta.url).pathname;

let env: TestEnvironment;
let journal: RunningJournal;
let journalUrl: string;
let internal: Client<typeof JournalService>;
let workflows: Client<typeof WorkflowService>;
let pool: pg.Pool;
const processes: ServiceProcess[] = [];

/** A private journal (database, prefix) per test. */
async function startStack(name: string, dispatchTimeoutMs: number) {
  env = await createTestEnvironment(name);
  journal = await startJournal(
    {
      databaseUrl: env.databaseUrl,
      natsUrl: env.natsUrl,
      prefix: env.prefix,
      host: "127.0.0.1",
      port: 0,
      shards: 2,
      maxPayloadBytes: 1 << 20,
      dispatchTimeoutMs,
      pageSizeMax: 100,
      dbPoolSize: 4,
    },
    { logger: createLogger("journal", "warn") },
  );
  journalUrl = `http://127.0.0.1:${journal.port}`;
  const transport = createGrpcTransport({ baseUrl: journalUrl });
  internal = createClient(JournalService, transport);
  workflows = createClient(WorkflowService, transport);
  pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  await internal.registerWorker({
    workerId: "test-coordinator",
    role: WorkerRole.COORDINATOR,
    workflows: [{ name: "crash" }],
  });
}

afterEach(async () => {
  for (const p of processes.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
  await pool?.end();
  await journal?.stop();
  await env?.cleanup();
});

/** Starts `n` runs and plays the coordinator: one "slow" step each (args i). Returns the step ids. */
async function dispatchSteps(n: number, tag: string): Promise<Map<string, number>> {
  const runIds = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await workflows.startWorkflow({
      workflowName: "crash",
      args: encodePayload(i),
      idempotencyKey: `${tag}-${i}`,
    });
    runIds.add(res.run!.id);
  }
  const turns = [];
  while (turns.length < n) {
    const claimed = await internal.claimRuns({ owner: "test-coordinator", maxRuns: 100, leaseMs: 30_000 });
    for (const c of claimed.runs) {
      if (!runIds.has(c.run!.id)) continue;
      const i = decodePayload<number>(c.run!.args);
      turns.push({
        runId: c.run!.id,
        leaseToken: c.leaseToken,
        generation: 1,
        newSteps: [{ seq: 1, name: "slow", kind: StepKind.QUERY, args: encodePayload(i) }],
      });
    }
  }
  await internal.commitTurns({ owner: "test-coordinator", turns });
  const rows = await sql<{ id: string; args: Buffer }>("SELECT id, args FROM steps WHERE run_id = ANY($1::uuid[])", [
    [...runIds],
  ]);
  return new Map(rows.map((r) => [r.id, JSON.parse(r.args.toString()) as number]));
}

async function sql<T extends pg.QueryResultRow>(text: string, values?: unknown[]) {
  return (await pool.query<T>(text, values)).rows;
}

async function completed(ids: Iterable<string>) {
  return sql<{ id: string; result: Buffer; completion_order: string; attempt: number }>(
    "SELECT id, result, completion_order, attempt FROM steps WHERE id = ANY($1::uuid[]) AND status = 'completed'",
    [[...ids]],
  );
}

async function spawnExecutor(id: string, executions: string) {
  const p = await spawnService({
    name: id,
    entry: MAIN,
    env: {
      ...env.env,
      WEFT_APP: APP,
      WEFT_JOURNAL_URL: journalUrl,
      WEFT_EXECUTOR_PORT: "0",
      WEFT_EXECUTOR_ID: id,
      WEFT_EXECUTOR_CONCURRENCY: "8",
      WEFT_SHARD_LEASE_MS: "2000",
      WEFT_DRAIN_TIMEOUT_MS: "10000",
      WEFT_TEST_EXECUTIONS: executions,
    },
  });
  processes.push(p);
  return p;
}

function executionsOf(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return counts;
  }
  for (const line of text.split("\n")) {
    const [stepId] = line.split(" ");
    if (stepId) counts.set(stepId, (counts.get(stepId) ?? 0) + 1);
  }
  return counts;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectAllRecordedOnce(steps: Map<string, number>, rows: Awaited<ReturnType<typeof completed>>) {
  expect(rows).toHaveLength(steps.size);
  for (const row of rows) expect(JSON.parse(row.result.toString())).toBe(steps.get(row.id)! * 10);
  // One outcome per step: each has its own completion order.
  expect(new Set(rows.map((r) => r.completion_order)).size).toBe(steps.size);
}

test("SIGKILL mid-batch: unrecorded tasks come back to another executor and each step is recorded once", async () => {
  // Steps the killed executor held are republished by the sweeper after the dispatch timeout
  // (JetStream would redeliver them too, after ack_wait = 30 s).
  await startStack("executor sigkill", 3_000);
  const executions = join(tmpdir(), `weft-exec-kill-${process.pid}.log`);
  rmSync(executions, { force: true });
  const steps = await dispatchSteps(40, "kill");
  const a = await spawnExecutor("exec-kill-a", executions);
  await waitFor(async () => (await completed(steps.keys())).length >= 8, 20_000, "some steps to complete");
  a.kill("SIGKILL");
  await a.exited;
  const recordedByA = (await completed(steps.keys())).length;
  expect(recordedByA).toBeLessThan(40);
  const b = await spawnExecutor("exec-kill-b", executions);
  await waitFor(async () => (await completed(steps.keys())).length === 40, 45_000, "every step to complete");
  expectAllRecordedOnce(steps, await completed(steps.keys()));
  // Executions are at-least-once: every step ran, some (those A held when it died) more than once.
  const counts = executionsOf(executions);
  for (const id of steps.keys()) expect(counts.get(id) ?? 0).toBeGreaterThanOrEqual(1);
  expect(await b.stop()).toBe(0);
  rmSync(executions, { force: true });
}, 90_000);

test("SIGTERM mid-batch: the executor finishes and records what it started, then exits 0", async () => {
  // No sweeper republish within the test: every execution is the drain's doing.
  await startStack("executor sigterm", 60_000);
  const executions = join(tmpdir(), `weft-exec-term-${process.pid}.log`);
  rmSync(executions, { force: true });
  const steps = await dispatchSteps(40, "term");
  const a = await spawnExecutor("exec-term-a", executions);
  await waitFor(async () => (await completed(steps.keys())).length >= 8, 20_000, "some steps to complete");
  expect(await a.stop()).toBe(0);
  // Everything A started is recorded: each step it executed is completed.
  const afterA = new Set((await completed(steps.keys())).map((r) => r.id));
  const ranByA = [...executionsOf(executions).keys()];
  expect(ranByA.length).toBeGreaterThanOrEqual(8);
  for (const id of ranByA) expect(afterA.has(id), id).toBe(true);
  const b = await spawnExecutor("exec-term-b", executions);
  await waitFor(async () => (await completed(steps.keys())).length === 40, 30_000, "every step to complete");
  expectAllRecordedOnce(steps, await completed(steps.keys()));
  // A graceful stop runs no step twice.
  for (const [id, n] of executionsOf(executions)) expect(n, id).toBe(1);
  expect(await b.stop()).toBe(0);
  rmSync(executions, { force: true });
}, 90_000);
