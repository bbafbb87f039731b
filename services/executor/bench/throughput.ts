// Executor throughput: an executor process (src/main.ts, the bench app) drains N pre-published
// tasks from JetStream into a journal peer that records instantly (test/support.ts), so the figure
// is the executor's own cost per step. Optional CPU profile of the executor (--cpu-prof).
//   node services/executor/bench/throughput.ts [-n 20000] [--shards 4] [--profile DIR] [--trace]
// --trace turns tracing on (every span sampled) with an OTLP exporter to a sink in this process.
// BENCH_ENTRY=<main.ts> benchmarks another copy of the executor (e.g. an older commit's src).
import { mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { taskStream } from "@weft/runtime";
import { spawnService, testNatsUrl } from "@weft/testkit";
import { createTaskStream, makeTask, publishTasks, startFakeJournal } from "../test/support.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", short: "n", default: "20000" },
    shards: { type: "string", default: "4" },
    profile: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});
const n = Number(values.n);
const shards = Number(values.shards);
const prefix = `bench_${process.pid}`;

const nc = await connect({ servers: testNatsUrl() });
await createTaskStream(nc, prefix, shards);
const cleanup = async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(taskStream(prefix)).catch(() => {});
};
process.once("uncaughtException", (err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  void cleanup().finally(() => process.exit(1));
});
const journal = await startFakeJournal(prefix, shards);
const tasks = Array.from({ length: n }, (_, i) =>
  makeTask({ stepName: "echo", workflowName: "bench", args: i, shard: i % shards }),
);
for (let i = 0; i < tasks.length; i += 1000) await publishTasks(nc, prefix, tasks.slice(i, i + 1000));

let first = 0;
let last = 0;
/** CPU ms (user + system) of a process so far, from /proc (Linux). */
const cpuMs = (pid: number) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ 100
  } catch {
    return Number.NaN;
  }
};
let executorPid = 0;
let cpuAtFirst = 0;
let cpuAtLast = 0;
const seen = new Set<string>();
const record = journal.failRecord;
journal.failRecord = (results) => {
  const now = performance.now();
  if (first === 0) {
    first = now;
    cpuAtFirst = cpuMs(executorPid);
  }
  for (const r of results) seen.add(r.stepId);
  last = now;
  if (seen.size >= n) cpuAtLast = cpuMs(executorPid);
  return record(results);
};

// --trace: spans exported over OTLP/HTTP (protobuf, batched) to a sink that counts request bytes.
let sinkBytes = 0;
const sink = values.trace
  ? await new Promise<{ server: Server; url: string }>((resolve) => {
      const server = createServer((req, res) => {
        req.on("data", (c: Buffer) => {
          sinkBytes += c.length;
        });
        req.on("end", () => res.end());
      });
      server.listen(0, "127.0.0.1", () => {
        const a = server.address() as AddressInfo;
        resolve({ server, url: `http://127.0.0.1:${a.port}/v1/traces` });
      });
    })
  : undefined;

if (values.profile) mkdirSync(values.profile, { recursive: true });
const t0 = performance.now();
const executor = await spawnService({
  name: "executor",
  entry: process.env.BENCH_ENTRY ?? new URL("../src/main.ts", import.meta.url).pathname,
  env: {
    WEFT_APP: new URL("./app.ts", import.meta.url).pathname,
    WEFT_NATS_URL: testNatsUrl(),
    WEFT_PREFIX: prefix,
    WEFT_JOURNAL_URL: journal.url,
    WEFT_EXECUTOR_PORT: "0",
    WEFT_LOG_LEVEL: "info",
    ...(values.profile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${values.profile}` } : {}),
    ...(sink ? { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: sink.url } : {}),
  },
  readyTimeoutMs: 60_000,
});
executorPid = executor.pid;
await journal.waitForResults(n, 600_000);
const total = performance.now() - t0;
const stoppedWith = await executor.stop();
const batches = journal.batches;
const ms = last - first;
process.stdout.write(
  `${JSON.stringify({
    tasks: n,
    shards,
    firstToLastMs: Math.round(ms),
    stepsPerSecond: Math.round(((n - 1) / ms) * 1000),
    wallMsIncludingStart: Math.round(total),
    // Robust to other load on the machine: the executor's own CPU per step, first to last result.
    executorCpuUsPerStep: Math.round(((cpuAtLast - cpuAtFirst) * 1000) / (n - 1)),
    recordCalls: batches.length,
    meanBatch: Math.round(n / batches.length),
    duplicates: [...journal.deliveries.values()].filter((c) => c > 1).length,
    exit: stoppedWith,
    ...(sink ? { otlpBytes: sinkBytes } : {}),
  })}\n`,
);
await journal.close();
sink?.server.close();
await cleanup();
await nc.close();
