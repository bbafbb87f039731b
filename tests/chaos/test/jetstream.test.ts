// JetStream durability on private nats-servers (never the shared one): an acknowledged publish
// survives a SIGKILL of the server (alone, and of a whole three-node cluster with an R3 stream),
// and what JetStream loses anyway (a purged task stream) the journal's sweeper republishes, so the
// workflows still finish.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { encodePayload, StartWorkflowRequestSchema, WorkflowService } from "@weft/contracts";
import { bearerInterceptor, taskStream } from "@weft/runtime";
import { generateToken, type ServiceProcess, serviceEntry, spawnService } from "@weft/stack";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { expectedSummary } from "../src/app.ts";
import { type NatsCluster, type PrivatePostgres, startNats, startPostgres, waitForJetStream } from "../src/infra.ts";
import { appPath, fastRecoveryEnv } from "../src/run.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function publishAcked(cluster: NatsCluster, replicas: number, count: number): Promise<Set<number>> {
  const nc = await connect({ servers: cluster.url.split(","), maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc);
    // A cluster that has just elected its meta leader may not know every peer yet, and an R3
    // stream then has no placement ("no suitable peers for placement"): try again until it does.
    await retry(() =>
      jsm.streams.add({
        name: "durability",
        subjects: ["durability.>"],
        storage: StorageType.File,
        num_replicas: replicas,
        retention: RetentionPolicy.Workqueue,
      }),
    );
    const js = jetstream(nc);
    const acked = new Set<number>();
    for (let start = 0; start < count; start += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, count - start) }, async (_, i) => {
          const n = start + i;
          await js.publish(`durability.${n % 8}`, JSON.stringify({ n }), { msgID: `m-${n}` });
          acked.add(n);
        }),
      );
    }
    return acked;
  } finally {
    await nc.close();
  }
}

async function readAll(cluster: NatsCluster): Promise<Set<number>> {
  const nc = await connect({ servers: cluster.url.split(","), maxReconnectAttempts: -1 });
  try {
    const jsm = await jetstreamManager(nc);
    // A restarted cluster needs a moment to elect the stream's leader.
    let info = await retry(() => jsm.streams.info("durability"));
    const seen = new Set<number>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const msg = await retry(() => jsm.streams.getMessage("durability", { seq }));
      if (msg) seen.add((msg.json() as { n: number }).n);
    }
    info = await jsm.streams.info("durability");
    expect(info.state.messages).toBe(seen.size);
    return seen;
  } finally {
    await nc.close();
  }
}

async function retry<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** A private Postgres with an empty `weft` database and private nats-servers, removed after the test. */
async function privateInfra(natsServers: number): Promise<{ postgres: PrivatePostgres; nats: NatsCluster }> {
  const postgres = await startPostgres();
  cleanups.push(() => postgres.destroy());
  const nats = await startNats(natsServers);
  cleanups.push(() => nats.destroy());
  const admin = new pg.Client({ connectionString: postgres.url() });
  await admin.connect();
  await admin.query("CREATE DATABASE weft");
  await admin.end();
  return { postgres, nats };
}

describe("JetStream durability", () => {
  it("keeps every acknowledged publish across a SIGKILL of the server", async () => {
    const nats = await startNats(1);
    cleanups.push(() => nats.destroy());
    const acked = await publishAcked(nats, 1, 3000);
    // No graceful shutdown: the kill comes right after the last ack.
    await nats.nodes[0]?.kill();
    await nats.nodes[0]?.start();
    const seen = await readAll(nats);
    expect(acked.size).toBe(3000);
    expect([...acked].filter((n) => !seen.has(n))).toEqual([]);
  });

  it("keeps every acknowledged publish of an R3 stream when the whole three-node cluster is killed", async () => {
    const nats = await startNats(3);
    cleanups.push(() => nats.destroy());
    const acked = await publishAcked(nats, 3, 3000);
    await Promise.all(nats.nodes.map((n) => n.kill()));
    await Promise.all(nats.nodes.map((n) => n.start()));
    await waitForJetStream(nats.nodes.map((n) => n.url));
    const seen = await readAll(nats);
    expect(acked.size).toBe(3000);
    expect([...acked].filter((n) => !seen.has(n))).toEqual([]);
  });
});

describe("a journal starting before its JetStream cluster is ready", () => {
  it("waits for the cluster's quorum, then creates its replicated task stream", async () => {
    const { postgres, nats } = await privateInfra(3);
    // One server of three: no meta leader, so JetStream's API does not answer.
    await Promise.all(nats.nodes.slice(1).map((n) => n.kill()));
    const procs: ServiceProcess[] = [];
    cleanups.push(async () => {
      await Promise.all(procs.map((p) => p.stop(5000)));
    });
    // The journal's first JetStream request fails (it times out without a meta leader); it says so
    // and keeps trying, where it used to exit. Only then does the quorum come back.
    let waiting: () => void = () => {};
    const warned = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    let ready = false;
    const starting = spawnService({
      name: "journal",
      entry: serviceEntry("journal"),
      readyTimeoutMs: 90_000,
      onLine: (line) => {
        if (line.includes("JetStream is not ready; trying again")) waiting();
      },
      env: {
        WEFT_SERVICE_TOKEN: generateToken(),
        WEFT_DATABASE_URL: postgres.url("weft"),
        WEFT_NATS_URL: nats.url,
        WEFT_PREFIX: "forming",
        WEFT_STREAM_REPLICAS: "3",
        WEFT_JOURNAL_PORT: "0",
      },
    }).then((p) => {
      ready = true;
      procs.push(p);
      return p;
    });
    // An exit before the warning fails the test here rather than waiting for it.
    await Promise.race([warned, starting.then(() => undefined)]);
    expect(ready).toBe(false);
    await Promise.all(nats.nodes.slice(1).map((n) => n.start()));
    await starting;
    const nc = await connect({ servers: nats.url.split(",") });
    cleanups.push(() => nc.close());
    const info = await (await jetstreamManager(nc)).streams.info(taskStream("forming"));
    expect(info.config.num_replicas).toBe(3);
  });
});

describe("the sweeper covers what JetStream loses", () => {
  it("finishes every workflow after its task stream was purged", async () => {
    const { postgres, nats } = await privateInfra(1);
    const dir = mkdtempSync(join(tmpdir(), "weft-sweeper-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const serviceToken = generateToken();
    const env = {
      WEFT_SERVICE_TOKEN: serviceToken,
      WEFT_DATABASE_URL: postgres.url("weft"),
      WEFT_NATS_URL: nats.url,
      WEFT_PREFIX: "sweep",
      WEFT_APP: appPath,
      WEFT_CHAOS_LOG: join(dir, "executions.jsonl"),
      WEFT_CHAOS_FAILURE_RATE: "0",
      ...fastRecoveryEnv,
      WEFT_DISPATCH_TIMEOUT_MS: "1500",
    };
    const procs: ServiceProcess[] = [];
    cleanups.push(async () => {
      await Promise.all(procs.map((p) => p.stop(5000)));
    });
    const journal = await spawnService({
      name: "journal",
      entry: serviceEntry("journal"),
      env: { ...env, WEFT_JOURNAL_PORT: "0" },
    });
    procs.push(journal);
    const journalUrl = `http://127.0.0.1:${journal.port}`;
    const worker = (kind: "coordinator" | "executor") =>
      spawnService({
        name: kind,
        entry: serviceEntry(kind),
        env: { ...env, WEFT_JOURNAL_URL: journalUrl, WEFT_COORDINATOR_PORT: "0", WEFT_EXECUTOR_PORT: "0" },
      });
    procs.push(await worker("coordinator"));

    // No executor yet: the first steps' tasks wait in the stream, and then the stream loses them.
    const client = createClient(
      WorkflowService,
      createGrpcTransport({ baseUrl: journalUrl, interceptors: [bearerInterceptor(serviceToken)] }),
    );
    const inputs = Array.from({ length: 50 }, (_, id) => ({ id, text: `purged task ${id}` }));
    const runs = await Promise.all(
      inputs.map(async (input) => {
        const res = await client.startWorkflow(
          create(StartWorkflowRequestSchema, { workflowName: "chaosPipeline", args: encodePayload(input) }),
        );
        return res.run?.id ?? "";
      }),
    );
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await retry(async () => {
      const info = await jsm.streams.info(taskStream("sweep"));
      if (info.state.messages < inputs.length) throw new Error(`${info.state.messages} tasks so far`);
    });
    const purged = await jsm.streams.purge(taskStream("sweep"));
    expect(purged.purged).toBe(inputs.length);
    expect((await jsm.streams.info(taskStream("sweep"))).state.messages).toBe(0);

    procs.push(await worker("executor"));
    const pool = new pg.Pool({ connectionString: postgres.url("weft"), max: 1 });
    cleanups.push(() => pool.end());
    await retry(async () => {
      const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM runs WHERE status <> 'completed'");
      if (Number(rows[0]?.n) > 0) throw new Error(`${rows[0]?.n} runs not completed`);
    }, 60_000);
    const { rows } = await pool.query<{ id: string; args: Buffer; result: Buffer; dispatch: number }>(
      "SELECT r.id, r.args, r.result, s.dispatch FROM runs r JOIN steps s ON s.run_id = r.id AND s.seq = 1",
    );
    expect(rows.map((r) => r.id).sort()).toEqual([...runs].sort());
    for (const r of rows) {
      const input = JSON.parse(r.args.toString()) as { id: number; text: string };
      expect(JSON.parse(r.result.toString())).toBe(expectedSummary(input));
      // The first step's task was published twice: once by the commit, once by the sweeper.
      expect(r.dispatch).toBeGreaterThanOrEqual(2);
    }
    const metrics = await (await fetch(`${journalUrl}/metrics`)).text();
    const republished = Number(
      /^weft_journal_tasks_published_total\{[^}]*reason="republished"[^}]*\} (\d+)/m.exec(metrics)?.[1],
    );
    expect(republished).toBeGreaterThanOrEqual(inputs.length);
  });
});
