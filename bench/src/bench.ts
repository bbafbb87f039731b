// `pnpm bench`: runs pipeline workloads through a real Weft stack on this machine and reports
// throughput, latency, per-process CPU and memory, and batch sizes (also as JSON for comparison).
//   W0   steps return at once (orchestration cost)      W1  each step awaits 50 ms
//   seed each step awaits its seeded 8-12 s             long sequential workflows of 4, 64, 512 steps
//   idle one W0 pipeline at a time on an idle stack (start → result latency)
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, WorkflowService } from "@weft/contracts";
import { bearerInterceptor } from "@weft/runtime";
import { type Stack, startStack } from "@weft/stack";
import { createTestEnvironment } from "@weft/testkit";
import { SingleBar } from "cli-progress";
import { Command, Option } from "commander";
import pg from "pg";
import type { BenchInput } from "./app.ts";
import { int } from "./options.ts";
import { type OtlpSink, startOtlpSink } from "./otlp-sink.ts";
import { ProcGroup, pidsOf } from "./proc-stats.ts";
import { scrapeHistograms } from "./prometheus.ts";
import { criticalPathMs, seededDurations } from "./seeded.ts";

const program = new Command("weft-bench")
  .description("Benchmark Weft on this machine with the pipeline workload.")
  .addOption(
    new Option("-w, --workload <name>", "workload").choices(["W0", "W1", "seed", "long", "idle"]).default("W0"),
  )
  .option("-n, --workflows <n>", "pipeline workflows", int("--workflows", 1), 20_000)
  .option("--executors <n>", "executor processes", int("--executors", 1), 1)
  .option("--coordinators <n>", "coordinator processes", int("--coordinators", 1), 1)
  .option("--shards <n>", "task shards", int("--shards", 1), 16)
  .option("--submit-concurrency <n>", "start calls in flight", int("--submit-concurrency", 1), 4)
  .option(
    "--submit-batch <n>",
    "starts per StartWorkflows call (1: one StartWorkflow call per run)",
    int("--submit-batch", 1),
    500,
  )
  .option(
    "--executor-concurrency <n>",
    "handlers running at once per executor (WEFT_EXECUTOR_CONCURRENCY; default 1024, seed 50000)",
    int("--executor-concurrency", 1),
  )
  .option("--fetch-batch <n>", "largest JetStream pull (WEFT_FETCH_BATCH)", int("--fetch-batch", 1))
  .option("--flush-max-results <n>", "results per RecordResultBatch (WEFT_FLUSH_MAX_RESULTS)", int("--flush", 1))
  .option("--claim-batch <n>", "runs per claim and commit (WEFT_CLAIM_BATCH)", int("--claim-batch", 1))
  .option("--turns <n>", "coordinator rounds in flight (WEFT_MAX_CONCURRENT_TURNS)", int("--turns", 1))
  .option("--tracing", "export traces (default sampler) to a local OTLP receiver", false)
  .option("--timeout <s>", "give up waiting after this many seconds", int("--timeout", 1), 900)
  .option("--results <dir>", "where JSON results go", ".bench-results")
  .option("--label <text>", "free text stored with the results", "")
  .option(
    "--retention-backlog <n>",
    "insert this many finished runs (4 steps each) ended 30 days ago, and run retention on them during the benchmark",
    int("--retention-backlog", 0),
    0,
  )
  .parse();

const opts = program.opts<{
  workload: "W0" | "W1" | "seed" | "long" | "idle";
  workflows: number;
  executors: number;
  coordinators: number;
  shards: number;
  submitConcurrency: number;
  submitBatch: number;
  executorConcurrency?: number;
  fetchBatch?: number;
  flushMaxResults?: number;
  claimBatch?: number;
  turns?: number;
  tracing: boolean;
  timeout: number;
  results: string;
  label: string;
  retentionBacklog: number;
}>();

/** The `long` workload: steps per shape, and runs in flight. */
const LONG_STEPS = 16_384;
const LONG_IN_FLIGHT = 32;

const out = (line = "") => process.stdout.write(`${line}\n`);
const PAYLOAD = "x".repeat(100);

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface Phase {
  name: string;
  workflow: string;
  inputs: unknown[];
  stepsPerRun: number;
  criticalPaths?: number[];
  /** Submit one at a time, each after the previous finished (idle-stack latency). */
  /** Closed loop: at most this many runs in flight, the next started as one finishes. */
  inFlight?: number;
}

function phases(): Phase[] {
  const n = opts.workflows;
  const pipeline = (ms: (i: number) => BenchInput["ms"]): Phase => {
    const inputs: BenchInput[] = Array.from({ length: n }, (_, i) => ({ text: PAYLOAD, ms: ms(i) }));
    return {
      name: opts.workload,
      workflow: "bench.pipeline",
      inputs,
      stepsPerRun: 4,
      criticalPaths: opts.workload === "seed" ? inputs.map((input) => criticalPathMs(input.ms)) : undefined,
    };
  };
  switch (opts.workload) {
    case "W0":
      return [pipeline(() => [0, 0, 0, 0])];
    case "idle":
      return [{ ...pipeline(() => [0, 0, 0, 0]), name: "idle", inFlight: 1 }];
    case "W1":
      return [pipeline(() => [50, 50, 50, 50])];
    case "seed":
      return [pipeline(seededDurations)];
    case "long":
      // The same number of steps and the same runs in flight (closed loop) for every shape, so
      // that the cost per step compares: only the runs' length differs.
      return [4, 64, 512].map((steps) => ({
        name: `long-${steps}`,
        workflow: "bench.sequence",
        inputs: Array.from({ length: Math.max(LONG_IN_FLIGHT, Math.floor(LONG_STEPS / steps)) }, () => steps),
        stepsPerRun: steps,
        inFlight: LONG_IN_FLIGHT,
      }));
  }
}

async function runPhase(stack: Stack, db: pg.Pool, phase: Phase) {
  const client = createClient(
    WorkflowService,
    createGrpcTransport({
      baseUrl: stack.journalUrl,
      interceptors: [bearerInterceptor(stack.token)],
    }),
  );
  const groups = [
    new ProcGroup("journal", () => [stack.journal.pid]),
    new ProcGroup("coordinator", () => stack.coordinators.map((p) => p.pid)),
    new ProcGroup("executors", () => stack.executors.map((p) => p.pid)),
    new ProcGroup("postgres", () => pidsOf("postgres")),
    new ProcGroup("nats-server", () => pidsOf("nats-server")),
    // The load generator itself (submits, watches, polls): on the same 2 cores as the stack.
    new ProcGroup("bench client", () => [process.pid]),
  ];
  await db.query("TRUNCATE runs, steps, events");
  // With --retention-backlog: old finished runs that the journal's retention deletes meanwhile;
  // the phase's own figures leave them out (they were created a month ago).
  if (opts.retentionBacklog > 0) await insertRetentionBacklog(db, opts.retentionBacklog);
  const oldBefore = opts.retentionBacklog > 0 ? await countOldRuns(db) : 0;
  const n = phase.inputs.length;
  const submittedAt = new Map<string, number>();
  const indexOf = new Map<string, number>();
  const bar = new SingleBar({
    format: `${phase.name} |{bar}| {value}/{total} done | {submitted} submitted | {rate} wf/s`,
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 5_000,
  });
  const started = performance.now();
  const startedEpoch = Date.now();
  bar.start(n, 0, { submitted: 0, rate: "0" });
  let next = 0;
  const submit = async () => {
    while (next < n) {
      if (opts.submitBatch === 1) {
        await submitOne(next++);
        continue;
      }
      const from = next;
      next = Math.min(n, next + opts.submitBatch);
      const at = Date.now();
      const res = await client.startWorkflows({
        starts: phase.inputs
          .slice(from, next)
          .map((input) => ({ workflowName: phase.workflow, args: encodePayload(input) })),
      });
      for (const [k, r] of res.results.entries()) {
        const id = r.run?.id ?? "";
        submittedAt.set(id, at);
        indexOf.set(id, from + k);
      }
    }
  };
  const submitOne = async (i: number) => {
    const at = Date.now();
    const res = await client.startWorkflow({ workflowName: phase.workflow, args: encodePayload(phase.inputs[i]) });
    const id = res.run?.id ?? "";
    submittedAt.set(id, at);
    indexOf.set(id, i);
    return id;
  };
  const closedLoop = async () => {
    while (next < n) {
      const id = await submitOne(next++);
      // Read to the stream's end (the journal ends it after the final status): breaking out
      // would reset a stream per run, and HTTP/2 servers close connections that reset streams
      // faster than 33/s after a burst of 1,000 (GOAWAY).
      // Only the final state, as the SDK's result() asks for it.
      for await (const update of client.watchWorkflow({ runId: id, finalOnly: true })) void update;
    }
  };
  const submitting = phase.inFlight
    ? Promise.all(Array.from({ length: phase.inFlight }, closedLoop))
    : Promise.all(Array.from({ length: opts.submitConcurrency }, submit));
  let submitEndMs = 0;
  let submitFailed = false;
  // Handled here so that a failed submission ends the phase through `await submitting` below
  // (and the stack is stopped), not as an unhandled rejection that kills the process mid-run.
  void submitting.then(
    () => {
      submitEndMs = performance.now() - started;
    },
    () => {
      submitFailed = true;
    },
  );
  const deadline = Date.now() + opts.timeout * 1000;
  let finished = 0;
  while (Date.now() < deadline && !submitFailed) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    for (const g of groups) g.poll();
    // The finished runs' own index (the phase's runs ended within the day, the retention backlog's
    // 30 days ago): a scan of the whole table every poll cost Postgres 26 ms at 20,000 runs.
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM runs WHERE status <> 'running' AND completed_at > now() - interval '1 day'",
    );
    finished = Number(rows[0]?.n ?? 0);
    bar.update(finished, {
      submitted: submittedAt.size,
      rate: (finished / ((performance.now() - started) / 1000)).toFixed(0),
    });
    if (finished >= n && submittedAt.size >= n) break;
  }
  await submitting;
  const polledWallMs = performance.now() - started;
  bar.stop();
  if (opts.retentionBacklog > 0) {
    const oldAfter = await countOldRuns(db);
    out(`  retention during the phase: ${oldBefore - oldAfter} old runs deleted, ${oldAfter} left`);
  }

  const { rows } = await db.query<{ id: string; status: string; done: string | null }>(
    `SELECT id, status, (extract(epoch FROM completed_at) * 1000)::bigint AS done FROM runs WHERE true ${ownRuns}`,
  );
  const latencies: number[] = [];
  const overheads: number[] = [];
  let failed = 0;
  let stuck = 0;
  for (const row of rows) {
    if (row.status === "running") stuck++;
    else if (row.status !== "completed") failed++;
    const sent = submittedAt.get(row.id);
    if (row.done === null || sent === undefined) continue;
    const latency = Number(row.done) - sent;
    latencies.push(latency);
    const i = indexOf.get(row.id);
    if (phase.criticalPaths && i !== undefined) overheads.push(latency - (phase.criticalPaths[i] ?? 0));
  }
  latencies.sort((a, b) => a - b);
  overheads.sort((a, b) => a - b);
  // Wall time ends at the last completion the journal recorded, not at the poll that saw it.
  const lastDone = rows.reduce((max, r) => Math.max(max, Number(r.done ?? 0)), 0);
  const wallMs = stuck === 0 && lastDone > 0 ? lastDone - startedEpoch : polledWallMs;
  const steps = (n - failed - stuck) * phase.stepsPerRun;
  const procs = groups.map((g) => g.report());
  const stackCpu = procs.filter((p) => p.name !== "bench client").reduce((sum, p) => sum + p.cpuSeconds, 0);
  const batches = {
    coordinator: await scrapeHistograms(`http://127.0.0.1:${stack.coordinators[0]?.port}/metrics`, [
      "weft_coordinator_claim_batch_size",
      "weft_coordinator_commit_batch_size",
      "weft_coordinator_commit_seconds",
      "weft_coordinator_replay_seconds",
    ]),
    executor: await scrapeHistograms(`http://127.0.0.1:${stack.executors[0]?.port}/metrics`, [
      "weft_executor_flush_batch_results",
      "weft_executor_flush_seconds",
    ]),
    journal: await scrapeHistograms(`${stack.journalUrl}/metrics`, [
      "weft_journal_record_batch_size",
      "weft_journal_commit_batch_size",
      "weft_journal_claim_batch_size",
      "weft_journal_rpc_seconds",
      "weft_journal_db_transaction_seconds",
    ]),
  };
  const hops = await hopBreakdown(db);
  const lat = (p: number) => percentile(latencies, p);
  return {
    phase: phase.name,
    workflows: n,
    stepsPerRun: phase.stepsPerRun,
    wallSeconds: Number((wallMs / 1000).toFixed(2)),
    submitSeconds: Number((submitEndMs / 1000).toFixed(2)),
    workflowsPerSecond: Math.round((n / wallMs) * 1000),
    stepsPerSecond: Math.round((steps / wallMs) * 1000),
    msPerStep: Number((wallMs / Math.max(steps, 1)).toFixed(4)),
    latencyMs: { p50: lat(50), p90: lat(90), p99: lat(99), max: latencies.at(-1) ?? 0 },
    fairnessP99OverP50: Number((lat(99) / Math.max(lat(50), 1)).toFixed(2)),
    overheadMs: phase.criticalPaths
      ? { p50: percentile(overheads, 50), p99: percentile(overheads, 99), max: overheads.at(-1) ?? 0 }
      : undefined,
    failed,
    stuck,
    cpuMsPerWorkflow: Number(((stackCpu * 1000) / n).toFixed(3)),
    cpuMsPerStep: Number(((stackCpu * 1000) / Math.max(steps, 1)).toFixed(3)),
    processes: procs,
    batches,
    hops,
    startedAt: new Date(startedEpoch).toISOString(),
  };
}

/**
 * Where a run's latency goes, per hop, from the journal's own timestamps (p50 and p99 in ms):
 * `start→turn` from the run's insert to its first turn's commit; `dispatch` from a turn's commit to
 * the handler's start (publish, fetch); `handler` the step itself; `result→turn` from the
 * handler's end to the next turn's commit (flush, RecordResultBatch, claim, replay, commit);
 * `result→done` the same for the final turn that completes the run.
 */
async function hopBreakdown(db: pg.Pool) {
  const { rows } = await db.query<{ hop: string; p50: number | null; p99: number | null }>(`
    WITH s AS (
      SELECT s.run_id, s.seq, s.created_at, s.started_at, s.completed_at, r.created_at AS run_created,
             r.completed_at AS run_done,
             lead(s.created_at) OVER (PARTITION BY s.run_id ORDER BY s.seq) AS next_created,
             row_number() OVER (PARTITION BY s.run_id ORDER BY s.seq) AS n
      FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.status = 'completed' AND r.created_at > now() - interval '1 day'
    ), d AS (
      SELECT 'start→turn' AS hop, extract(epoch FROM created_at - run_created) * 1000 AS ms FROM s WHERE n = 1
      UNION ALL SELECT 'dispatch', extract(epoch FROM started_at - created_at) * 1000 FROM s
      UNION ALL SELECT 'handler', extract(epoch FROM completed_at - started_at) * 1000 FROM s
      UNION ALL SELECT 'result→turn', extract(epoch FROM next_created - completed_at) * 1000 FROM s
        WHERE next_created > created_at
      UNION ALL SELECT 'result→done', extract(epoch FROM run_done - completed_at) * 1000 FROM s
        WHERE next_created IS NULL
    )
    SELECT hop, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
    FROM d WHERE ms IS NOT NULL GROUP BY hop`);
  const order = ["start→turn", "dispatch", "handler", "result→turn", "result→done"];
  rows.sort((a, b) => order.indexOf(a.hop) - order.indexOf(b.hop));
  return rows.map((r) => ({
    hop: r.hop,
    p50Ms: Number((r.p50 ?? 0).toFixed(2)),
    p99Ms: Number((r.p99 ?? 0).toFixed(2)),
  }));
}

type PhaseResult = Awaited<ReturnType<typeof runPhase>>;

function print(r: PhaseResult) {
  out();
  out(`== ${r.phase}: ${r.workflows} workflows × ${r.stepsPerRun} steps`);
  out(
    `  wall ${r.wallSeconds} s (submit ${r.submitSeconds} s) · ${r.workflowsPerSecond} workflows/s · ${r.stepsPerSecond} steps/s · ${r.msPerStep} ms/step`,
  );
  out(
    `  latency submit→completion: p50 ${r.latencyMs.p50} ms, p90 ${r.latencyMs.p90}, p99 ${r.latencyMs.p99}, max ${r.latencyMs.max} · p99/p50 ${r.fairnessP99OverP50}`,
  );
  if (r.overheadMs)
    out(
      `  overhead over the run's critical path: p50 ${r.overheadMs.p50} ms, p99 ${r.overheadMs.p99}, max ${r.overheadMs.max}`,
    );
  out(
    `  failed ${r.failed}, stuck ${r.stuck} · whole-stack CPU ${r.cpuMsPerWorkflow} ms/workflow, ${r.cpuMsPerStep} ms/step`,
  );
  if (r.hops.length > 0) out(`  hops (p50/p99 ms): ${r.hops.map((h) => `${h.hop} ${h.p50Ms}/${h.p99Ms}`).join(" · ")}`);
  for (const p of r.processes)
    out(`  ${p.name.padEnd(12)} cpu ${String(p.cpuSeconds).padStart(7)} s   peak rss ${p.peakRssMiB} MiB`);
  for (const [service, hists] of Object.entries(r.batches)) {
    for (const [name, h] of Object.entries(hists)) {
      const seconds = name.includes("_seconds");
      out(
        `  ${service} ${name}: ${h.count} ${seconds ? "calls" : "batches"}, mean ${seconds ? `${(h.mean * 1000).toFixed(2)} ms` : h.mean}`,
      );
    }
  }
}

/** The knobs given on the command line, as each service's settings (and CPU profiling). */
function serviceEnv(): Record<"journal" | "coordinator" | "executor", Record<string, string>> {
  const set = (entries: [string, number | undefined][]) =>
    Object.fromEntries(entries.filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
  const executorConcurrency = opts.executorConcurrency ?? (opts.workload === "seed" ? 50_000 : undefined);
  const env = {
    journal: {},
    coordinator: set([
      ["WEFT_CLAIM_BATCH", opts.claimBatch],
      ["WEFT_MAX_CONCURRENT_TURNS", opts.turns],
    ]),
    executor: set([
      ["WEFT_EXECUTOR_CONCURRENCY", executorConcurrency],
      ["WEFT_FETCH_BATCH", opts.fetchBatch],
      ["WEFT_FLUSH_MAX_RESULTS", opts.flushMaxResults],
    ]),
  };
  const dir = process.env.WEFT_BENCH_PROFILE_DIR;
  if (dir) {
    for (const name of ["journal", "coordinator", "executor"] as const) {
      Object.assign(env[name], { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}/${name}` });
    }
  }
  return env;
}

/**
 * Old finished runs with their steps, inserted by set in chunks as if they had just ended, then
 * aged by 30 days in one statement: the journal's retention (age 1 day, polling every 200 ms in
 * this mode) finds the whole backlog at once and deletes it beside the benchmark.
 */
async function insertRetentionBacklog(db: pg.Pool, n: number): Promise<void> {
  const started = performance.now();
  for (let from = 0; from < n; from += 20_000) {
    const to = Math.min(from + 20_000, n) - 1;
    await db.query(`
      WITH r AS (
        INSERT INTO runs (id, workflow_name, status, result, shard, ready, ready_at, created_at, updated_at, completed_at)
        SELECT md5('old' || i)::uuid, 'pipeline', 'completed', '"ok"'::bytea, i % 16, false, NULL,
               now() - interval '30 days', now() - interval '30 days', now()
        FROM generate_series(${from}, ${to}) AS i
        RETURNING id, shard)
      INSERT INTO steps (id, run_id, generation, seq, name, kind, status, result, attempt, shard, completion_order, created_at, completed_at)
      SELECT md5('oldstep' || r.id || '.' || s)::uuid, r.id, 1, s, 'step' || s, 'action', 'completed', '1'::bytea, 1,
             r.shard, nextval('completion_order_seq'), now() - interval '30 days', now() - interval '30 days'
      FROM r, generate_series(1, 4) AS s`);
  }
  await db.query(
    "UPDATE runs SET completed_at = now() - interval '30 days' WHERE created_at < now() - interval '1 day'",
  );
  out(
    `  retention backlog: ${n} finished runs (+${4 * n} steps) inserted in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

/** How often the benchmark counts finished runs (progress and the end of a phase). */
const POLL_MS = 1000;

/** The phase's own runs, not the retention backlog's. */
const ownRuns = "AND created_at > now() - interval '1 day'";

const countOldRuns = async (db: pg.Pool) =>
  Number((await db.query("SELECT count(*) AS n FROM runs WHERE completed_at < now() - interval '1 day'")).rows[0].n);

async function main() {
  const env = await createTestEnvironment(`bench_${opts.workload}`);
  let sink: OtlpSink | undefined;
  let stack: Stack | undefined;
  const db = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  let cleaned: Promise<void> | undefined;
  // Stops the stack and drops the private database and stream, once (also on Ctrl-C or SIGTERM).
  const cleanup = () => {
    cleaned ??= (async () => {
      await db.end().catch(() => {});
      await stack?.stop();
      await sink?.close();
      await env.cleanup();
    })();
    return cleaned;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    out(`\n${signal}: stopping the stack`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const tracingEnv: Record<string, string> = {};
    if (opts.tracing) {
      sink = await startOtlpSink();
      Object.assign(tracingEnv, {
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        // The OTLP encoding (http/protobuf unless the environment names another, e.g. http/json).
        OTEL_EXPORTER_OTLP_PROTOCOL: process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
      });
    } else {
      tracingEnv.OTEL_SDK_DISABLED = "true";
    }
    out(
      `Starting the stack: ${opts.coordinators} coordinator(s), ${opts.executors} executor(s), ${opts.shards} shards, tracing ${opts.tracing ? "on" : "off"}`,
    );
    stack = await startStack({
      env: {
        ...env.env,
        ...tracingEnv,
        WEFT_SHARDS: String(opts.shards),
        WEFT_LOG_LEVEL: "info",
        ...(opts.retentionBacklog > 0 ? { WEFT_RETENTION_AGE_S: "86400", WEFT_RETENTION_INTERVAL_MS: "200" } : {}),
      },
      app: fileURLToPath(new URL("./app.ts", import.meta.url)),
      coordinators: opts.coordinators,
      executors: opts.executors,
      journalPort: 0,
      serviceEnv: serviceEnv(),
      // One log file per process, for diagnosis (logs otherwise stay in memory).
      logDir: process.env.WEFT_BENCH_LOG_DIR,
    });
    const results: PhaseResult[] = [];
    for (const phase of phases()) {
      const r = await runPhase(stack, db, phase);
      results.push(r);
      print(r);
    }
    if (sink) {
      const { requests, bytes, spans, byName } = sink.stats;
      out(`  tracing: ${requests} OTLP exports, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${spans} spans`);
      const names = [...byName].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${n}`);
      out(`    ${names.join(" · ")}`);
    }
    mkdirSync(opts.results, { recursive: true });
    const file = join(opts.results, `${new Date().toISOString().replace(/[:.]/g, "-")}-${opts.workload}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          workload: opts.workload,
          options: opts,
          machine: { cpus: (await import("node:os")).cpus().length },
          results,
          tracing: sink ? { ...sink.stats, byName: Object.fromEntries(sink.stats.byName) } : undefined,
        },
        null,
        2,
      )}\n`,
    );
    out(`\nResults written to ${file}`);
    const bad = results.some((r) => r.failed > 0 || r.stuck > 0);
    process.exitCode = bad ? 1 : 0;
  } finally {
    await cleanup();
  }
}

await main();
