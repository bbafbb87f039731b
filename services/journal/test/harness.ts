// Test harness: an in-process journal on an isolated database and prefix, with Connect clients
// for both services and a JetStream reader for the shard consumers.

import { fromBinary } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { JournalService, StepKind, type StepTask, StepTaskSchema, WorkflowService } from "@weft/contracts";
import { createLogger, shardConsumer, taskStream } from "@weft/runtime";
import { createTestEnvironment, type TestEnvironment } from "@weft/testkit";
import pg from "pg";
import { type JournalConfig, type JournalOptions, type RunningJournal, startJournal } from "../src/index.ts";

export interface Harness {
  env: TestEnvironment;
  config: JournalConfig;
  journal: RunningJournal;
  workflows: Client<typeof WorkflowService>;
  internal: Client<typeof JournalService>;
  nc: NatsConnection;
  /** Raw SQL against the test database (assertions and clock tricks). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Pulls the tasks published so far on a shard (acks them). */
  takeTasks(shard: number, max?: number): Promise<{ task: StepTask; msgId: string; traceparent?: string }[]>;
  close(): Promise<void>;
}

/** A journal's configuration on a test environment's database and prefix (small limits). */
export function testJournalConfig(
  env: Pick<TestEnvironment, "databaseUrl" | "natsUrl" | "prefix">,
  overrides: Partial<JournalConfig> = {},
): JournalConfig {
  return {
    databaseUrl: env.databaseUrl,
    natsUrl: env.natsUrl,
    prefix: env.prefix,
    host: "127.0.0.1",
    port: 0,
    shards: 4,
    maxPayloadBytes: 1024,
    dispatchTimeoutMs: 60_000,
    pageSizeMax: 50,
    dbPoolSize: 4,
    ...overrides,
  };
}

export async function startHarness(
  name: string,
  overrides: Partial<JournalConfig> = {},
  options: JournalOptions = {},
): Promise<Harness> {
  const env = await createTestEnvironment(name);
  const config = testJournalConfig(env, overrides);
  const journal = await startJournal(config, { logger: createLogger("journal-test", "warn"), ...options });
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${journal.port}` });
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  // pool.end() resolves before its clients' sockets close; the cleanup's DROP DATABASE may then
  // terminate one, whose error would otherwise surface as an unhandled 'error' event.
  pool.on("error", () => {});
  const nc = await connect({ servers: env.natsUrl });
  const js = jetstream(nc);
  return {
    env,
    config,
    journal,
    workflows: createClient(WorkflowService, transport),
    internal: createClient(JournalService, transport),
    nc,
    query: async (text, values) => (await pool.query(text, values)).rows,
    takeTasks: async (shard, max = 1000) => {
      const consumer = await js.consumers.get(taskStream(env.prefix), shardConsumer(env.prefix, shard));
      // fetch() waits at least 1 s for a full batch, so ask only for what is pending.
      const pending = (await consumer.info()).num_pending;
      if (pending === 0) return [];
      const batch = await consumer.fetch({ max_messages: Math.min(pending, max), expires: 1000 });
      const out: { task: StepTask; msgId: string; traceparent?: string }[] = [];
      for await (const m of batch) {
        out.push({
          task: fromBinary(StepTaskSchema, m.data),
          msgId: m.headers?.get("Nats-Msg-Id") ?? "",
          traceparent: m.headers?.get("traceparent") || undefined,
        });
        m.ack();
      }
      return out;
    },
    close: async () => {
      await nc.close();
      await journal.stop();
      await pool.end();
      await env.cleanup();
    },
  };
}

/** Pulls tasks from every shard until `count` arrived or the time is up. */
export async function takeAllTasks(h: Harness, count: number, timeoutMs = 5000) {
  const tasks: Awaited<ReturnType<Harness["takeTasks"]>> = [];
  const deadline = Date.now() + timeoutMs;
  while (tasks.length < count && Date.now() < deadline) {
    if (tasks.length > 0 || Date.now() > deadline - timeoutMs + 20) await new Promise((r) => setTimeout(r, 20));
    for (let shard = 0; shard < h.config.shards; shard++) {
      tasks.push(...(await h.takeTasks(shard)));
    }
  }
  return tasks;
}

export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Asserts that a call fails with `code` and a message that mentions `text`. */
export async function expectConnectError(call: Promise<unknown>, code: number, text: string): Promise<void> {
  const { ConnectError } = await import("@connectrpc/connect");
  let caught: unknown;
  try {
    await call;
  } catch (err) {
    caught = err;
  }
  if (!(caught instanceof ConnectError)) throw new Error(`expected a ConnectError, got ${String(caught)}`);
  if (caught.code !== code || !caught.rawMessage.includes(text)) {
    throw new Error(`expected code ${code} mentioning "${text}", got code ${caught.code}: ${caught.rawMessage}`);
  }
}

/** Claims until the given run is among the claimed ones (other claimed runs are returned too). */
export async function claimRun(h: Harness, runId: string, owner = "coordinator-1", leaseMs = 10_000) {
  return eventually(async () => {
    const res = await h.internal.claimRuns({ owner, maxRuns: 100, leaseMs });
    return res.runs.find((r) => r.run?.id === runId);
  });
}

/**
 * Starts a `pipeline` run and commits its first turn with one ACTION step named `name`: a
 * dispatched task. Returns the run and step ids.
 */
export async function dispatchOne(h: Harness, name: string): Promise<{ runId: string; stepId: string }> {
  const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
  const runId = run?.id ?? "";
  const claimed = await claimRun(h, runId);
  await h.internal.commitTurns({
    owner: "coordinator-1",
    turns: [
      { runId, leaseToken: claimed.leaseToken, generation: 1, newSteps: [{ seq: 1, name, kind: StepKind.ACTION }] },
    ],
  });
  const [row] = await h.query<{ id: string }>("SELECT id FROM steps WHERE run_id = $1", [runId]);
  return { runId, stepId: row?.id ?? "" };
}
