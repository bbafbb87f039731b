// The bounded chaos run: a private Postgres and nats-server(s), the real Weft services as
// processes, pipeline workflows started at a steady rate while faults are injected on a schedule,
// then the invariants checked from the database and from the step handlers' side-effect log.
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { encodePayload, StartWorkflowRequestSchema, WorkflowService } from "@weft/contracts";
import { bearerInterceptor, taskStream } from "@weft/runtime";
import { generateToken, type ServiceName, type ServiceProcess, serviceEntry, spawnService } from "@weft/stack";
import pg from "pg";
import { expectedSummary } from "./app.ts";
import { type NatsCluster, natsServerVersion, type PrivatePostgres, startNats, startPostgres } from "./infra.ts";
import { type Execution, readExecutions } from "./side-effects.ts";

export const appPath = fileURLToPath(new URL("./app.ts", import.meta.url));

export type FaultKind =
  | "kill-executor"
  | "kill-all-executors"
  | "kill-coordinators"
  | "kill-journal"
  | "restart-nats"
  | "restart-postgres"
  | "pause-executor"
  | "pause-coordinator"
  | "kill-node";

/** The single-node schedule: every kind of fault once, in this order. */
export const defaultFaults: FaultKind[] = [
  "kill-executor",
  "pause-executor",
  "kill-coordinators",
  "restart-nats",
  "kill-all-executors",
  "restart-postgres",
  "pause-coordinator",
  "kill-journal",
];

export interface ChaosOptions {
  /** Workflows to run. */
  size: number;
  /** Three nats-servers in a JetStream cluster (R3 stream) and two of each service. */
  cluster?: boolean;
  /** Starts are spread over this many seconds; the faults fall inside it. */
  startSeconds?: number;
  faults?: FaultKind[];
  /** How long to wait for the last runs after the last fault. */
  drainTimeoutMs?: number;
  /** Keep process logs here (else a temp dir removed at the end). */
  logDir?: string;
  log?: (line: string) => void;
}

export interface FaultRecord {
  id: number;
  kind: FaultKind;
  /** ms since the run's start. */
  at: number;
  /** When the faulted component was back (restarted / resumed), ms since the run's start. */
  recoveredAt: number;
  victims: { name: string; pid: number }[];
  note?: string;
  /** From the fault until the completion rate was back at half its rate before the fault. */
  recoveryMs?: number;
  /** Longest gap between two run completions from the fault to 10 s after recovery. */
  longestCompletionGapMs?: number;
  /** Runs completed per second in the 5 s before the fault, while it lasted, and in the 5 s after. */
  completionsPerSecond?: { before: number; during: number; after: number };
  /** Pauses: late writes the journal rejected after SIGCONT (duplicate/stale results, fenced turns). */
  rejectedLateWrites?: number;
}

export interface ChaosReport {
  mode: "single" | "cluster";
  size: number;
  natsServer: string;
  natsSyncAlways: boolean;
  /** Replicas of the task stream as JetStream reports them. */
  streamReplicas: number;
  services: Record<string, number>;
  wallMs: number;
  faults: FaultRecord[];
  runs: { completed: number; failed: number; running: number; other: number; wrongResult: number; missing: number };
  steps: { completed: number; notCompleted: number; perRunMismatch: number };
  executions: {
    total: number;
    steps: number;
    extra: number;
    retriesAfterInjectedFailure: number;
    explainedByFault: Record<string, number>;
    unexplained: number;
    unexplainedSamples: string[];
    appliedWithoutEndInLog: number;
    appliedTwice: number;
  };
  fencing: {
    /** Executions a paused executor had started, finished after SIGCONT, that another executor had run meanwhile: not applied. */
    lateExecutionsRejected: number;
    /** The same, but applied (the other execution had not finished first). */
    lateExecutionsApplied: number;
    /** Journal results counted as duplicate/stale (late writers acked and ignored). */
    journalDuplicateResults: number;
    journalStaleResults: number;
    /** Coordinator turns rejected by the fencing token. */
    coordinatorFencedTurns: number;
    fencedTurnLogLines: number;
  };
  throughput: {
    workflowsPerSecond: number;
    stepsPerSecond: number;
    firstStartToLastCompletionMs: number;
  };
  recovery: {
    lastFaultEndedAt: number;
    lastCompletionAt: number;
    /** From the end of the last fault to the last run's completion. */
    drainAfterLastFaultMs: number;
    /** When the last workflow was started (starts go on after the last fault). */
    lastStartAt: number;
    /** From the start of the last fault until completions were back at half the earlier rate. */
    lastFaultRecoveryMs?: number;
  };
  stuck: { readyRuns: number; leasedRuns: number; runningSteps: number };
  violations: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Leases and timeouts short enough that a kill costs seconds, not minutes. */
export const fastRecoveryEnv = {
  WEFT_LEASE_MS: "2000",
  WEFT_SHARD_LEASE_MS: "2000",
  WEFT_TASK_ACK_WAIT_MS: "3000",
  WEFT_DISPATCH_TIMEOUT_MS: "8000",
  WEFT_SAFETY_POLL_MS: "500",
};
const ACK_WAIT_MS = 3000;
const DISPATCH_TIMEOUT_MS = 8000;
const PAUSE_MS = 6000;
const COORDINATOR_PAUSE_MS = 4000;

interface Member {
  kind: ServiceName;
  /** Node (machine) index in cluster mode; 0 otherwise. */
  node: number;
  name: string;
  proc: ServiceProcess;
  env: Record<string, string>;
  journalPort?: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cluster = options.cluster ?? false;
  const faults = options.faults ?? (cluster ? (["kill-node"] as FaultKind[]) : defaultFaults);
  const startSeconds = options.startSeconds ?? Math.max(20, faults.length * 6);
  const work = mkdtempSync(join(tmpdir(), "weft-chaos-"));
  const logDir = options.logDir ?? join(work, "logs");
  mkdirSync(logDir, { recursive: true });
  const sideEffectLog = join(work, "executions.jsonl");
  const logFiles: WriteStream[] = [];
  const violations: string[] = [];

  let postgres: PrivatePostgres | undefined;
  let nats: NatsCluster | undefined;
  const members: Member[] = [];
  const everyPid = new Map<number, string>();
  let pool: pg.Pool | undefined;
  // Reset when the workload starts: fault and execution times count from there.
  let t0 = Date.now();
  const now = () => Date.now() - t0;

  try {
    postgres = await startPostgres();
    nats = await startNats(cluster ? 3 : 1);
    log(
      `postgres on ${postgres.port} (fsync, synchronous_commit on); nats-server ${natsServerVersion()} ×${nats.nodes.length} on ${nats.nodes.map((n) => n.port).join(",")}${nats.syncAlways ? " (sync_interval: always)" : ""}`,
    );
    const admin = new pg.Client({ connectionString: postgres.url() });
    await admin.connect();
    await admin.query("CREATE DATABASE weft");
    await admin.end();
    const databaseUrl = postgres.url("weft");
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on("error", () => {});

    // Auth is on, as in production: every process (and the workload's clients) uses one service token.
    const serviceToken = generateToken();
    const baseEnv: Record<string, string> = {
      WEFT_SERVICE_TOKEN: serviceToken,
      WEFT_DATABASE_URL: databaseUrl,
      WEFT_PREFIX: "chaos",
      WEFT_APP: appPath,
      WEFT_CHAOS_LOG: sideEffectLog,
      WEFT_LOG_LEVEL: "info",
      WEFT_STREAM_REPLICAS: cluster ? "3" : "1",
      WEFT_SHARDS: "16",
      ...fastRecoveryEnv,
    };
    // Each "machine" of the cluster talks to every NATS node, its own node first.
    const natsUrlFor = (node: number) =>
      cluster && nats
        ? [nats.nodes[node], ...nats.nodes.filter((_, i) => i !== node)].map((n) => n?.url).join(",")
        : (nats?.url ?? "");

    const launch = async (m: Omit<Member, "proc" | "name">, index: number): Promise<Member> => {
      const name = `${m.kind}-${m.node}.${index}`;
      const file = createWriteStream(join(logDir, `${name}.log`), { flags: "a" });
      logFiles.push(file);
      const proc = await spawnService({
        name,
        entry: serviceEntry(m.kind),
        env: m.env,
        onLine: (line) => {
          file.write(`${line}\n`);
          if (line.includes("turn fenced")) fencedLines.push({ name, at: Date.now() });
        },
        readyTimeoutMs: 60_000,
      });
      everyPid.set(proc.pid, name);
      return { ...m, name, proc };
    };
    /** Each coordinator log line reporting a fenced turn: which process, when. */
    const fencedLines: { name: string; at: number }[] = [];
    let launches = 0;
    const spawnMember = async (
      kind: ServiceName,
      node: number,
      extra: Record<string, string> = {},
    ): Promise<Member> => {
      const env: Record<string, string> = { ...baseEnv, WEFT_NATS_URL: natsUrlFor(node), ...extra };
      if (kind === "journal") env.WEFT_JOURNAL_PORT = "0";
      else {
        const journal = members.find((j) => j.kind === "journal" && j.node === node);
        env.WEFT_JOURNAL_URL = `http://127.0.0.1:${journal?.journalPort}`;
        env[kind === "coordinator" ? "WEFT_COORDINATOR_PORT" : "WEFT_EXECUTOR_PORT"] = "0";
      }
      const m = await launch({ kind, node, env }, launches++);
      if (kind === "journal") {
        // A restarted journal comes back on the same port, where its clients look for it.
        m.journalPort = m.proc.port;
        m.env.WEFT_JOURNAL_PORT = String(m.proc.port);
      }
      return m;
    };
    const respawn = async (old: Member): Promise<Member> => {
      const m = await launch(
        { kind: old.kind, node: old.node, env: old.env, journalPort: old.journalPort },
        launches++,
      );
      members[members.indexOf(old)] = m;
      return m;
    };

    const nodes = cluster ? [0, 1] : [0];
    for (const node of nodes) members.push(await spawnMember("journal", node));
    for (const node of nodes) {
      const perNode = cluster ? { coordinator: 1, executor: 1 } : { coordinator: 2, executor: 3 };
      const kinds: ServiceName[] = [
        ...Array.from({ length: perNode.coordinator }, () => "coordinator" as const),
        ...Array.from({ length: perNode.executor }, () => "executor" as const),
      ];
      // The last coordinator is the one "pause-coordinator" stops: its turns take 5 ms of CPU each
      // (smaller claims keep a batch well inside its 2 s lease).
      const slow = { WEFT_CHAOS_REPLAY_MS: "5", WEFT_CLAIM_BATCH: "64" };
      members.push(
        ...(await Promise.all(
          kinds.map((kind, i) =>
            spawnMember(kind, node, kind === "coordinator" && i === perNode.coordinator - 1 && !cluster ? slow : {}),
          ),
        )),
      );
    }
    const streamReplicas = await streamReplicaCount(nats.url, "chaos");
    const services: Record<string, number> = {};
    for (const m of members) services[m.kind] = (services[m.kind] ?? 0) + 1;
    log(`services: ${JSON.stringify(services)} (logs in ${logDir})`);
    const of = (kind: ServiceName) => members.filter((m) => m.kind === kind);

    // --- metrics: per-process counters, scraped while the processes live ---------------------
    /** A process's Prometheus page, or undefined when it does not answer within `timeoutMs`. */
    const metricsOf = async (m: Member, timeoutMs: number): Promise<string | undefined> => {
      try {
        const res = await fetch(`http://127.0.0.1:${m.proc.port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
        return await res.text();
      } catch {
        return undefined;
      }
    };
    const lastCounter = new Map<string, number>();
    const counterEvents: { at: number; pid: number; metric: string; delta: number }[] = [];
    const scrape = async () => {
      await Promise.all(
        members.map(async (m) => {
          const text = await metricsOf(m, 800);
          if (text === undefined) return; // paused, restarting or busy: next time
          for (const [metric, re] of [
            ["duplicate", /^weft_journal_results_total\{[^}]*status="duplicate"[^}]*\} (\d+)/m],
            ["stale", /^weft_journal_results_total\{[^}]*status="stale"[^}]*\} (\d+)/m],
            ["fenced", /^weft_coordinator_turns_total\{[^}]*status="fenced"[^}]*\} (\d+)/m],
            // A late turn of a run that ended meanwhile is turned away as NOT_RUNNING.
            ["not_running", /^weft_coordinator_turns_total\{[^}]*status="not_running"[^}]*\} (\d+)/m],
          ] as const) {
            const match = re.exec(text);
            if (!match) continue;
            const value = Number(match[1]);
            const key = `${m.proc.pid}:${metric}`;
            const before = lastCounter.get(key) ?? 0;
            if (value > before) counterEvents.push({ at: now(), pid: m.proc.pid, metric, delta: value - before });
            lastCounter.set(key, value);
          }
        }),
      );
    };
    /** The executor's task messages held unacked now (its gauge); 0 when it does not answer. */
    const heldTasks = async (m: Member): Promise<number> => {
      const match = /^weft_executor_held_tasks(?:\{[^}]*\})? (\d+)/m.exec((await metricsOf(m, 500)) ?? "");
      return match ? Number(match[1]) : 0;
    };
    const counterTotal = (metric: string) =>
      [...lastCounter.entries()].filter(([k]) => k.endsWith(`:${metric}`)).reduce((sum, [, v]) => sum + v, 0);

    // --- progress: completions over time, from the database ---------------------------------
    const completions: number[] = []; // completion times (ms since t0), from completed_at
    let monitorStop = false;
    let lastSeen = new Date(0);
    const monitor = (async () => {
      while (!monitorStop) {
        await scrape();
        try {
          const { rows } = await (pool as pg.Pool).query<{ at: Date }>(
            "SELECT completed_at AS at FROM runs WHERE completed_at > $1 ORDER BY completed_at",
            [lastSeen],
          );
          for (const r of rows) completions.push(r.at.getTime() - t0);
          if (rows.length > 0) lastSeen = rows[rows.length - 1]?.at ?? lastSeen;
        } catch {
          // Postgres restarting
        }
        await sleep(500);
      }
    })();

    // --- the workload -----------------------------------------------------------------------
    const inputs = Array.from({ length: options.size }, (_, id) => ({
      id,
      text: `chaos run ${id} ${"w ".repeat(id % 7)}`,
    }));
    const journalClients = (): Client<typeof WorkflowService>[] =>
      of("journal").map((j) =>
        createClient(
          WorkflowService,
          createGrpcTransport({
            baseUrl: `http://127.0.0.1:${j.journalPort}`,
            interceptors: [bearerInterceptor(serviceToken)],
          }),
        ),
      );
    const clients = journalClients();
    let startFailures = 0;
    const startOne = async (i: number) => {
      const input = inputs[i] as (typeof inputs)[number];
      for (let attempt = 0; ; attempt++) {
        const client = clients[(i + attempt) % clients.length] as Client<typeof WorkflowService>;
        try {
          await client.startWorkflow(
            create(StartWorkflowRequestSchema, {
              workflowName: "chaosPipeline",
              args: encodePayload(input),
              idempotencyKey: `chaos-${i}`,
            }),
            { signal: AbortSignal.timeout(10_000) },
          );
          return;
        } catch {
          startFailures++;
          await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
        }
      }
    };
    // --- the faults ---------------------------------------------------------------------------
    const faultLog: FaultRecord[] = [];
    const runFault = async (kind: FaultKind): Promise<FaultRecord> => {
      const record: FaultRecord = { id: faultLog.length + 1, kind, at: now(), recoveredAt: 0, victims: [] };
      const victim = (m: Member) => record.victims.push({ name: m.name, pid: m.proc.pid });
      const kill = async (m: Member) => {
        victim(m);
        m.proc.kill("SIGKILL");
        await m.proc.exited;
      };
      switch (kind) {
        case "kill-executor": {
          const m = of("executor")[0] as Member;
          await kill(m);
          await respawn(m);
          break;
        }
        case "kill-all-executors": {
          const all = of("executor");
          await Promise.all(all.map(kill));
          await Promise.all(all.map(respawn));
          break;
        }
        case "kill-coordinators": {
          const all = of("coordinator");
          await Promise.all(all.map(kill));
          await Promise.all(all.map(respawn));
          break;
        }
        case "kill-journal": {
          const j = of("journal")[0] as Member;
          await kill(j);
          await respawn(j);
          break;
        }
        case "restart-nats": {
          const node = nats?.nodes[0];
          if (node) {
            record.victims.push({ name: node.name, pid: node.pid });
            await node.kill();
            await sleep(1000);
            await node.start();
          }
          break;
        }
        case "restart-postgres": {
          record.victims.push({ name: "postgres", pid: 0 });
          postgres?.crash();
          await sleep(1000);
          postgres?.start();
          break;
        }
        case "pause-executor": {
          // Stop an executor that holds tasks (its gauge), so that its results come late: one that
          // holds none at that instant (between steps of 0-50 ms, or its shards just rebalanced
          // away) would test nothing. The last executor if none is seen holding any within 5 s.
          const executors = of("executor");
          let m = executors.at(-1) as Member;
          const deadline = Date.now() + 5_000;
          aim: while (Date.now() < deadline) {
            for (const candidate of [...executors].reverse()) {
              if ((await heldTasks(candidate)) > 0) {
                m = candidate;
                break aim;
              }
            }
            await sleep(20);
          }
          victim(m);
          m.proc.kill("SIGSTOP");
          await sleep(PAUSE_MS);
          m.proc.kill("SIGCONT");
          record.note = `SIGSTOP for ${PAUSE_MS} ms (shard lease ${fastRecoveryEnv.WEFT_SHARD_LEASE_MS} ms, ack wait ${ACK_WAIT_MS} ms), then SIGCONT`;
          break;
        }
        case "pause-coordinator": {
          // Stop the coordinator between a claim and its commit, so that it resumes with turns to
          // commit under leases that expired meanwhile. A short stop tells whether it caught one:
          // leases it still holds 1.5 s into the stop belong to turns it has not committed (a
          // commit already sent would have released them by then). If none, resume and aim again.
          const m = of("coordinator").at(-1) as Member;
          victim(m);
          const owner = [`%-${m.proc.pid}`];
          const held = async (freshMs?: number) => {
            const { rows } = await (pool as pg.Pool)
              .query<{ n: string }>(
                `SELECT count(*) AS n FROM runs WHERE status = 'running' AND lease_owner LIKE $1${freshMs === undefined ? "" : ` AND lease_expires > now() + ${Number(fastRecoveryEnv.WEFT_LEASE_MS) - freshMs} * interval '1 millisecond'`}`,
                owner,
              )
              .catch(() => ({ rows: [{ n: "0" }] }));
            return Number(rows[0]?.n);
          };
          let tries = 0;
          let caught = 0;
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            tries++;
            // Aim: a claim in the last 30 ms (most likely still replaying).
            const aim = Date.now() + 2000;
            while (Date.now() < aim && (await held(30)) === 0) {
              /* poll */
            }
            m.proc.kill("SIGSTOP");
            await sleep(1500);
            caught = await held();
            if (caught > 0) break;
            m.proc.kill("SIGCONT");
            await sleep(50);
          }
          const fencedBefore = lastCounter.get(`${m.proc.pid}:fenced`) ?? 0;
          await sleep(COORDINATOR_PAUSE_MS - 1500);
          m.proc.kill("SIGCONT");
          for (let wait = 0; wait < 40; wait++) {
            await sleep(250);
            await scrape();
            if ((lastCounter.get(`${m.proc.pid}:fenced`) ?? 0) > fencedBefore) break;
          }
          record.note = `SIGSTOP between a claim and its commit (${caught} leased runs held, after ${tries} aim(s)), for ${COORDINATOR_PAUSE_MS} ms (lease ${fastRecoveryEnv.WEFT_LEASE_MS} ms), then SIGCONT`;
          break;
        }
        case "kill-node": {
          // Node 0 as a machine: its nats-server and one replica of every service at once.
          const node = nats?.nodes[0];
          const victims = members.filter((m) => m.node === 0);
          if (node) record.victims.push({ name: node.name, pid: node.pid });
          await Promise.all([node?.kill(), ...victims.map(kill)]);
          record.note = "node 0 down for 10 s: nats-server, journal, coordinator and executor; node 1 carries on";
          await sleep(10_000);
          await node?.start();
          for (const m of victims.filter((v) => v.kind === "journal")) await respawn(m);
          await Promise.all(victims.filter((v) => v.kind !== "journal").map(respawn));
          break;
        }
      }
      record.recoveredAt = now();
      log(
        `fault ${record.id} ${kind} at ${(record.at / 1000).toFixed(1)} s, back at ${(record.recoveredAt / 1000).toFixed(1)} s: ${record.victims.map((v) => `${v.name}${v.pid ? `(${v.pid})` : ""}`).join(", ")}`,
      );
      return record;
    };
    // The starts come in segments, one per fault plus one; each fault fires in the middle of its
    // segment (after the previous fault ended), and a segment waits for the fault two segments
    // back, so that every fault hits a loaded system however slow the machine is.
    const segments = faults.length + 1;
    const segmentMs = (startSeconds * 1000) / segments;
    const pending: Promise<void>[] = [];
    const faultsDone: Promise<void>[] = [];
    t0 = Date.now();
    for (let seg = 0; seg < segments; seg++) {
      if (seg >= 2) await faultsDone[seg - 2];
      const segStart = now();
      const kind = faults[seg];
      const previous = faultsDone[seg - 1] ?? Promise.resolve();
      if (kind)
        faultsDone.push(
          (async () => {
            await previous;
            await sleep(Math.max(0, segStart + segmentMs / 2 - now()));
            faultLog.push(await runFault(kind));
          })(),
        );
      const from = Math.floor((seg * options.size) / segments);
      const to = Math.floor(((seg + 1) * options.size) / segments);
      const perTick = Math.max(1, Math.ceil((to - from) / (segmentMs / 100)));
      for (let i = from; i < to; i += perTick) {
        const due = segStart + ((i - from) / (to - from)) * segmentMs;
        if (now() < due) await sleep(due - now());
        for (let j = i; j < Math.min(to, i + perTick); j++) pending.push(startOne(j));
      }
    }
    await Promise.all(faultsDone);
    await Promise.all(pending);
    const lastStartAt = now();
    log(
      `all ${options.size} workflows started by ${(now() / 1000).toFixed(1)} s (${startFailures} start calls retried)`,
    );
    const lastFaultEnd = faultLog.reduce((max, f) => Math.max(max, f.recoveredAt), 0);

    // --- drain --------------------------------------------------------------------------------
    const drainDeadline = Date.now() + (options.drainTimeoutMs ?? 180_000);
    let running = options.size;
    while (Date.now() < drainDeadline) {
      try {
        const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM runs WHERE status = 'running'");
        const { rows: total } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM runs");
        running = Number(rows[0]?.n) + (options.size - Number(total[0]?.n));
        if (running === 0) break;
      } catch {
        // keep trying
      }
      await sleep(500);
    }
    await sleep(1500); // let the monitor see the last completions and the metrics settle
    await scrape();
    monitorStop = true;
    await monitor;
    const wallMs = now();
    if (running > 0) {
      // Where the stragglers are, for diagnosis.
      const q = async (text: string) => (await (pool as pg.Pool).query(text)).rows;
      log(
        `still running: ${JSON.stringify(await q("SELECT status, ready, lease_owner IS NOT NULL AS leased, count(*)::int AS n FROM runs GROUP BY 1, 2, 3"))}`,
      );
      log(`steps: ${JSON.stringify(await q("SELECT status, name, count(*)::int AS n FROM steps GROUP BY 1, 2"))}`);
      log(
        `sessions: ${JSON.stringify(await q("SELECT state, wait_event, left(query, 80) AS query, now() - query_start AS age FROM pg_stat_activity WHERE datname = 'weft'"))}`,
      );
    }
    if (running > 0)
      violations.push(`${running} runs still running ${options.drainTimeoutMs ?? 180_000} ms after the last fault`);

    // Stop the services (gracefully) before reading the side-effect log: nothing more can run.
    await Promise.all(members.filter((m) => m.kind !== "journal").map((m) => m.proc.stop(10_000)));
    await Promise.all(of("journal").map((m) => m.proc.stop(10_000)));

    // --- invariants ---------------------------------------------------------------------------
    const report = await checkInvariants({
      pool,
      inputs,
      // Execution times relative to the run's start, like the fault log's.
      executions: readExecutions(sideEffectLog).map((e) => ({ ...e, at: e.at - t0 })),
      faults: faultLog,
      violations,
    });
    completions.sort((a, b) => a - b);
    for (const f of faultLog) {
      f.recoveryMs = recoveryTime(completions, f);
      f.longestCompletionGapMs = longestGap(completions, f.at, f.recoveredAt + 10_000);
      f.completionsPerSecond = rates(completions, f);
    }
    const lastCompletionAt = completions.at(-1) ?? 0;
    const firstStart = 0;
    const stepCount = report.steps.completed;
    const lastFault = faultLog.at(-1);
    const full: ChaosReport = {
      mode: cluster ? "cluster" : "single",
      size: options.size,
      natsServer: natsServerVersion(),
      natsSyncAlways: nats.syncAlways,
      streamReplicas,
      services,
      wallMs,
      faults: faultLog,
      ...report,
      fencing: {
        ...report.fencing,
        journalDuplicateResults: counterTotal("duplicate"),
        journalStaleResults: counterTotal("stale"),
        coordinatorFencedTurns: counterTotal("fenced"),
        fencedTurnLogLines: fencedLines.length,
      },
      throughput: {
        workflowsPerSecond: round((report.runs.completed / Math.max(1, lastCompletionAt - firstStart)) * 1000),
        stepsPerSecond: round((stepCount / Math.max(1, lastCompletionAt - firstStart)) * 1000),
        firstStartToLastCompletionMs: lastCompletionAt - firstStart,
      },
      recovery: {
        lastFaultEndedAt: lastFaultEnd,
        lastCompletionAt,
        drainAfterLastFaultMs: Math.max(0, lastCompletionAt - lastFaultEnd),
        lastStartAt,
        lastFaultRecoveryMs: lastFault?.recoveryMs,
      },
    };
    // A pause must have produced a late writer, and the journal must have turned it away.
    for (const f of faultLog) {
      const pid = f.victims[0]?.pid;
      const after = (metric: string) =>
        counterEvents
          .filter((e) => e.metric === metric && e.at >= f.at && e.at <= f.recoveredAt + 10_000)
          .filter((e) => (metric !== "fenced" && metric !== "not_running") || e.pid === pid)
          .reduce((n, e) => n + e.delta, 0);
      if (f.kind === "pause-executor") {
        f.rejectedLateWrites = after("duplicate") + after("stale");
        if (f.rejectedLateWrites === 0 && full.fencing.lateExecutionsRejected === 0)
          violations.push("the paused executor's late results left no trace of being rejected");
      }
      if (f.kind === "pause-coordinator") {
        // The coordinator's own word, from its metrics (scraped each second) or its log lines
        // (a process killed soon after may never be scraped again).
        const victim = pid === undefined ? undefined : everyPid.get(pid);
        const logged = fencedLines.filter(
          (l) => l.name === victim && l.at >= f.at && l.at <= f.recoveredAt + 10_000,
        ).length;
        f.rejectedLateWrites = Math.max(after("fenced"), logged) + after("not_running");
        if (f.rejectedLateWrites === 0) violations.push("the paused coordinator's late turn was not seen being fenced");
      }
    }
    if (full.stuck.readyRuns + full.stuck.leasedRuns + full.stuck.runningSteps > 0)
      violations.push(`stuck: ${JSON.stringify(full.stuck)}`);
    full.violations = violations;
    return full;
  } finally {
    await pool?.end().catch(() => {});
    for (const m of members) m.proc.kill("SIGCONT");
    for (const m of members) m.proc.kill("SIGKILL");
    await Promise.all(members.map((m) => m.proc.exited));
    for (const file of logFiles) file.end();
    await nats?.destroy();
    postgres?.destroy();
    // The side-effect log (and the logs, unless kept elsewhere with `logDir`).
    rmSync(work, { recursive: true, force: true });
  }
}

async function streamReplicaCount(url: string, prefix: string): Promise<number> {
  const nc = await connect({ servers: url.split(",") });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(taskStream(prefix))).config.num_replicas;
  } finally {
    await nc.close();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

function longestGap(sorted: number[], from: number, to: number): number {
  let prev = from;
  let longest = 0;
  for (const t of sorted) {
    if (t < from) continue;
    if (t > to) break;
    longest = Math.max(longest, t - prev);
    prev = t;
  }
  return Math.max(longest, Math.min(to, sorted.at(-1) ?? to) - prev);
}

/** From the fault's start until a 1-s window after it completes at least half the runs/s of the 5 s before it. */
function rates(sorted: number[], f: FaultRecord): { before: number; during: number; after: number } {
  const count = (from: number, to: number) => sorted.filter((t) => t >= from && t < to).length;
  const during = Math.max(1, f.recoveredAt - f.at);
  return {
    before: round(count(f.at - 5000, f.at) / 5),
    during: round((count(f.at, f.recoveredAt) / during) * 1000),
    after: round(count(f.recoveredAt, f.recoveredAt + 5000) / 5),
  };
}

function recoveryTime(sorted: number[], fault: FaultRecord): number | undefined {
  const before = sorted.filter((t) => t >= fault.at - 5000 && t < fault.at).length / 5;
  if (before === 0) return undefined;
  for (let t = fault.at; t < (sorted.at(-1) ?? 0); t += 250) {
    const inWindow = sorted.filter((x) => x >= t && x < t + 1000).length;
    if (inWindow >= before / 2) return t + 1000 - fault.at;
  }
  return undefined;
}

interface CheckInput {
  pool: pg.Pool;
  inputs: { id: number; text: string }[];
  executions: Execution[];
  faults: FaultRecord[];
  violations: string[];
}

async function checkInvariants(c: CheckInput) {
  const { pool, inputs, executions, faults, violations } = c;
  // Runs: terminal, completed, with the pipeline's result for their input.
  const { rows: runs } = await pool.query<{ args: Buffer; result: Buffer | null; status: string; id: string }>(
    "SELECT id, args, result, status FROM runs",
  );
  const runCounts = { completed: 0, failed: 0, running: 0, other: 0, wrongResult: 0, missing: 0 };
  const seen = new Set<number>();
  for (const r of runs) {
    const input = JSON.parse(r.args.toString("utf8")) as { id: number; text: string };
    seen.add(input.id);
    if (r.status === "completed") runCounts.completed++;
    else if (r.status === "failed") runCounts.failed++;
    else if (r.status === "running") runCounts.running++;
    else runCounts.other++;
    if (r.status === "completed") {
      const result = r.result ? (JSON.parse(r.result.toString("utf8")) as unknown) : null;
      if (result !== expectedSummary(input)) runCounts.wrongResult++;
    }
  }
  runCounts.missing = inputs.length - seen.size;
  if (runs.length !== inputs.length) violations.push(`${runs.length} runs for ${inputs.length} starts`);
  if (runCounts.completed !== inputs.length)
    violations.push(`only ${runCounts.completed} of ${inputs.length} runs completed`);
  if (runCounts.wrongResult > 0) violations.push(`${runCounts.wrongResult} runs completed with a wrong result`);

  // Steps: four per run, each completed; the result names the execution that was applied.
  const { rows: steps } = await pool.query<{ id: string; run_id: string; status: string; result: Buffer | null }>(
    "SELECT id, run_id, status, result FROM steps WHERE seq > 0",
  );
  const perRun = new Map<string, number>();
  let completedSteps = 0;
  let notCompleted = 0;
  const applied = new Map<string, string>(); // stepId -> exec
  for (const s of steps) {
    perRun.set(s.run_id, (perRun.get(s.run_id) ?? 0) + 1);
    if (s.status === "completed") {
      completedSteps++;
      const stamped = s.result ? (JSON.parse(s.result.toString("utf8")) as { exec?: string }) : {};
      if (stamped.exec) applied.set(s.id, stamped.exec);
    } else notCompleted++;
  }
  const perRunMismatch = [...perRun.values()].filter((n) => n !== 4).length + (runs.length - perRun.size);
  if (notCompleted > 0) violations.push(`${notCompleted} steps not completed`);
  if (perRunMismatch > 0) violations.push(`${perRunMismatch} runs without exactly 4 steps`);

  const { rows: stuckRows } = await pool.query<{ ready: string; leased: string; running_steps: string }>(
    `SELECT (SELECT count(*) FROM runs WHERE status = 'running' AND ready) AS ready,
            (SELECT count(*) FROM runs WHERE status = 'running' AND lease_expires IS NOT NULL) AS leased,
            (SELECT count(*) FROM steps WHERE status = 'running') AS running_steps`,
  );
  const stuck = {
    readyRuns: Number(stuckRows[0]?.ready),
    leasedRuns: Number(stuckRows[0]?.leased),
    runningSteps: Number(stuckRows[0]?.running_steps),
  };

  // Executions against the journal: every applied result is one logged, finished execution.
  const byExec = new Map<string, Execution>();
  for (const e of executions) if (e.phase === "end") byExec.set(e.exec, e);
  let appliedWithoutEnd = 0;
  for (const [stepId, exec] of applied) {
    const e = byExec.get(exec);
    if (!e || e.stepId !== stepId) appliedWithoutEnd++;
  }
  if (appliedWithoutEnd > 0)
    violations.push(`${appliedWithoutEnd} applied results match no finished execution in the log`);
  // Applied twice: two completed rows for one (run, seq) cannot exist (unique key); a result
  // applied twice would show as a step whose exec differs from the first applied one — the
  // journal keeps one row per step, so count steps whose run has a second row for the same name.
  const { rows: twice } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM (SELECT run_id, name FROM steps WHERE seq > 0 GROUP BY run_id, generation, name HAVING count(*) > 1) d",
  );
  const appliedTwice = Number(twice[0]?.n);
  if (appliedTwice > 0) violations.push(`${appliedTwice} steps journaled twice`);

  // Every execution beyond a step's first is explained by an injected failure (a retry) or a fault.
  const starts = new Map<string, Execution[]>();
  const outcome = new Map<string, Execution>(); // exec -> end/fail
  const startOf = new Map<string, Execution>();
  for (const e of executions) {
    if (e.phase === "start") {
      starts.set(e.stepId, [...(starts.get(e.stepId) ?? []), e]);
      startOf.set(e.exec, e);
    } else outcome.set(e.exec, e);
  }
  const victimFault = new Map<number, FaultRecord>();
  for (const f of faults) for (const v of f.victims) if (v.pid) victimFault.set(v.pid, f);
  const slack = ACK_WAIT_MS + DISPATCH_TIMEOUT_MS + 5000;
  let extra = 0;
  let retries = 0;
  let unexplained = 0;
  const unexplainedSamples: string[] = [];
  const explainedByFault: Record<string, number> = {};
  for (const list of starts.values()) {
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++) {
      extra++;
      const prev = list[i - 1] as Execution;
      const cur = list[i] as Execution;
      if (outcome.get(prev.exec)?.phase === "fail") {
        retries++;
        continue;
      }
      const byPid = victimFault.get(prev.pid);
      // The latest fault whose window holds the earlier execution.
      const byTime = faults.findLast((f) => prev.at >= f.at - 2000 && prev.at <= f.recoveredAt + slack);
      const fault = byPid ?? byTime;
      if (fault) {
        const key = `${fault.id}:${fault.kind}`;
        explainedByFault[key] = (explainedByFault[key] ?? 0) + 1;
      } else {
        unexplained++;
        if (unexplainedSamples.length < 10)
          unexplainedSamples.push(
            `step ${cur.stepId} (${cur.name}): attempt ${prev.attempt} pid ${prev.pid} at ${prev.at}, again attempt ${cur.attempt} pid ${cur.pid} at ${cur.at}`,
          );
      }
    }
  }
  if (unexplained > 0) violations.push(`${unexplained} repeated executions not explained by any fault`);

  // Fencing: executions of a paused executor that ended after it resumed must not be applied.
  let lateRejected = 0;
  let lateApplied = 0;
  for (const f of faults.filter((x) => x.kind === "pause-executor")) {
    const pid = f.victims[0]?.pid;
    // Executions the paused executor had started before it resumed: their results were flushed
    // (if at all) after SIGCONT, when another executor had run the step again.
    for (const e of executions) {
      if (e.pid !== pid || e.phase !== "end" || e.at < f.recoveredAt) continue;
      const started = startOf.get(e.exec);
      if (!started || started.at < f.at - 2000 || started.at >= f.recoveredAt) continue;
      const other = (starts.get(e.stepId) ?? []).some((x) => x.pid !== pid);
      if (!other) continue; // nobody else ran it: its result is the only one, rightly applied
      if (applied.get(e.stepId) === e.exec) lateApplied++;
      else lateRejected++;
    }
  }
  return {
    runs: runCounts,
    steps: { completed: completedSteps, notCompleted, perRunMismatch },
    executions: {
      total: [...starts.values()].reduce((n, l) => n + l.length, 0),
      steps: starts.size,
      extra,
      retriesAfterInjectedFailure: retries,
      explainedByFault,
      unexplained,
      unexplainedSamples,
      appliedWithoutEndInLog: appliedWithoutEnd,
      appliedTwice,
    },
    fencing: {
      lateExecutionsRejected: lateRejected,
      lateExecutionsApplied: lateApplied,
      journalDuplicateResults: 0,
      journalStaleResults: 0,
      coordinatorFencedTurns: 0,
      fencedTurnLogLines: 0,
    },
    stuck,
    violations,
  };
}

/** Writes the report as JSON under .bench-results/ (git-ignored); returns the file's path. */
export function writeReport(report: ChaosReport, label = ""): string {
  const dir = fileURLToPath(new URL("../../../.bench-results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = join(dir, `chaos-${report.mode}-${report.size}${label}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

export function formatReport(r: ChaosReport): string {
  const lines = [
    `chaos run (${r.mode}): ${r.size} workflows, services ${JSON.stringify(r.services)}, nats-server ${r.natsServer}${r.natsSyncAlways ? " sync_interval=always" : ""}, task stream replicas ${r.streamReplicas}`,
    "fault log:",
    ...r.faults.map(
      (f) =>
        `  #${f.id} ${f.kind.padEnd(18)} at ${(f.at / 1000).toFixed(1).padStart(6)} s  back at ${(f.recoveredAt / 1000).toFixed(1).padStart(6)} s  recovery ${f.recoveryMs === undefined ? "n/a" : `${f.recoveryMs} ms`}  longest completion gap ${f.longestCompletionGapMs} ms  runs/s before ${f.completionsPerSecond?.before} during ${f.completionsPerSecond?.during} after ${f.completionsPerSecond?.after}${f.rejectedLateWrites === undefined ? "" : `  late writes rejected ${f.rejectedLateWrites}`}  victims ${f.victims.map((v) => `${v.name}${v.pid ? `(${v.pid})` : ""}`).join(", ")}${f.note ? `  — ${f.note}` : ""}`,
    ),
    `runs: ${JSON.stringify(r.runs)}`,
    `steps: ${JSON.stringify(r.steps)}`,
    `executions: ${r.executions.total} for ${r.executions.steps} steps; ${r.executions.extra} beyond the first: ${r.executions.retriesAfterInjectedFailure} retries after injected failures, by fault ${JSON.stringify(r.executions.explainedByFault)}, unexplained ${r.executions.unexplained}`,
    `applied results without a finished execution: ${r.executions.appliedWithoutEndInLog}; steps journaled twice: ${r.executions.appliedTwice}`,
    `fencing: ${JSON.stringify(r.fencing)}`,
    `stuck: ${JSON.stringify(r.stuck)}`,
    `throughput: ${r.throughput.workflowsPerSecond} workflows/s, ${r.throughput.stepsPerSecond} steps/s over ${(r.throughput.firstStartToLastCompletionMs / 1000).toFixed(1)} s (starts spread out; faults included)`,
    `recovery: last fault ended at ${(r.recovery.lastFaultEndedAt / 1000).toFixed(1)} s, last start at ${(r.recovery.lastStartAt / 1000).toFixed(1)} s, last run completed at ${(r.recovery.lastCompletionAt / 1000).toFixed(1)} s (drain ${r.recovery.drainAfterLastFaultMs} ms); last fault's recovery ${r.recovery.lastFaultRecoveryMs ?? "n/a"} ms`,
    `wall time ${(r.wallMs / 1000).toFixed(1)} s`,
    r.violations.length === 0 ? "invariants: all hold" : `VIOLATIONS:\n  ${r.violations.join("\n  ")}`,
  ];
  for (const s of r.executions.unexplainedSamples) lines.push(`  unexplained: ${s}`);
  return lines.join("\n");
}
