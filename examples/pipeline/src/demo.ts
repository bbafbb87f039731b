// The main job: starts the Weft stack (journal, coordinators, executors) as processes on the local
// Postgres and NATS, runs N pipeline workflows through it with a progress bar, prints a summary,
// and optionally stays up serving clients.

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodePayload, RunStatus, timestampMs, WorkflowService } from "@weft/contracts";
import { startConsoleServer, startStack } from "@weft/stack";
import { SingleBar } from "cli-progress";
import { Command, InvalidArgumentError } from "commander";
import { ensureDatabase } from "./database.ts";
import { expectedSummary, type PipelineInput } from "./steps.ts";

const positiveInt =
  (name: string, min = 0) =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };

const program = new Command("weft-demo")
  .description("Run the Weft stack with the pipeline demo (extract → analyzeA ‖ analyzeB → summarize).")
  .option("-n, --workflows <n>", "pipeline workflows to run", positiveInt("--workflows"), 1000)
  .option("--step-ms <ms>", "simulated I/O per step (ms)", positiveInt("--step-ms"), 0)
  .option("--executors <n>", "executor processes", positiveInt("--executors", 1), 1)
  .option("--coordinators <n>", "coordinator processes", positiveInt("--coordinators", 1), 1)
  .option("--submit-concurrency <n>", "StartWorkflow calls in flight", positiveInt("--submit-concurrency", 1), 64)
  .option("--port <port>", "journal port (0 = any free port)", positiveInt("--port"), 7233)
  .option("--serve", "stay up serving clients after the demo (Ctrl-C stops)", false)
  .option("--console-port <port>", "web console port (the built apps/console)", positiveInt("--console-port"), 7280)
  .option("--log-dir <dir>", "one log file per service process", ".weft/logs")
  .parse();

const opts = program.opts<{
  workflows: number;
  stepMs: number;
  executors: number;
  coordinators: number;
  submitConcurrency: number;
  port: number;
  serve: boolean;
  consolePort: number;
  logDir: string;
}>();

const env = {
  WEFT_DATABASE_URL: process.env.WEFT_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/weft",
  WEFT_NATS_URL: process.env.WEFT_NATS_URL ?? "nats://127.0.0.1:4222",
  WEFT_PREFIX: process.env.WEFT_PREFIX ?? "weft",
};
const out = (line: string) => process.stdout.write(`${line}\n`);

await ensureDatabase(env.WEFT_DATABASE_URL);
out(`Starting the stack: 1 journal, ${opts.coordinators} coordinator(s), ${opts.executors} executor(s)`);
out(
  `  Postgres ${env.WEFT_DATABASE_URL}, NATS ${env.WEFT_NATS_URL}, prefix "${env.WEFT_PREFIX}", logs in ${opts.logDir}/`,
);
const stack = await startStack({
  env,
  app: fileURLToPath(new URL("./app.ts", import.meta.url)),
  coordinators: opts.coordinators,
  executors: opts.executors,
  journalPort: opts.port,
  logDir: opts.logDir,
  serviceEnv: { journal: { WEFT_CORS_ORIGINS: process.env.WEFT_CORS_ORIGINS ?? "*" } },
});
out(`Journal serving gRPC, gRPC-Web and Connect on ${stack.journalUrl}`);
// A development stack: its generated client token (every namespace) is shown so that the CLI and
// the console can be used against it (docs/security.md).
if (stack.token) out(`  client token for this stack: export WEFT_TOKEN=${stack.token}`);

// The web console (Connect-Web in the browser), served next to the stack when it is built.
const consoleDist = fileURLToPath(new URL("../../../apps/console/dist", import.meta.url));
const consoleServer = existsSync(`${consoleDist}/index.html`)
  ? await startConsoleServer({ dist: consoleDist, journalUrl: stack.journalUrl, port: opts.consolePort })
  : undefined;
out(
  consoleServer
    ? `Web console on ${consoleServer.url}${stack.token ? `?token=${stack.token}` : ""}`
    : "Web console not built (pnpm --filter @weft/console build); skipping it",
);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  out("Stopping the stack...");
  await consoleServer?.close();
  await stack.stop();
  process.exit(code);
};
process.once("SIGINT", () => void stop(0));
process.once("SIGTERM", () => void stop(0));

const client = createClient(
  WorkflowService,
  createGrpcTransport({
    baseUrl: stack.journalUrl,
    interceptors: [
      (next) => (req) => {
        if (stack.token) req.header.set("authorization", `Bearer ${stack.token}`);
        return next(req);
      },
    ],
  }),
);

async function runDemo(n: number): Promise<boolean> {
  const inputs: PipelineInput[] = Array.from({ length: n }, (_, i) => ({
    id: i,
    text: `workflow ${i} says hello to the weft of many threads`.slice(0, 20 + (i % 30)),
    stepMs: opts.stepMs,
  }));
  const ids = new Array<string>(n);
  const bar = new SingleBar({
    format: "pipeline |{bar}| {value}/{total} done | {started} started | {failed} failed | {rate} wf/s",
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 2_000,
  });
  const started = performance.now();
  bar.start(n, 0, { started: 0, failed: 0, rate: "0" });

  let next = 0;
  let submitted = 0;
  const submit = async () => {
    while (next < n) {
      const i = next++;
      const input = inputs[i] as PipelineInput;
      const res = await client.startWorkflow({
        workflowName: "pipeline",
        args: new TextEncoder().encode(JSON.stringify(input)),
        idempotencyKey: `demo-${started}-${i}`,
      });
      ids[i] = res.run?.id ?? "";
      submitted++;
    }
  };
  const submitting = Promise.all(Array.from({ length: opts.submitConcurrency }, submit));

  // Progress: count the runs still running (paged), until none of ours is left.
  let done = 0;
  let failed = 0;
  const since = new Date(Date.now() - 1000);
  for (;;) {
    const submittedNow = submitted;
    let running = 0;
    let pageToken = "";
    do {
      const page = await client.listWorkflows({
        workflowName: "pipeline",
        statuses: [RunStatus.RUNNING],
        createdAfter: { seconds: BigInt(Math.floor(since.getTime() / 1000)), nanos: 0 },
        pageSize: 1000,
        pageToken,
      });
      running += page.runs.length;
      pageToken = page.nextPageToken;
    } while (pageToken);
    done = Math.max(done, submittedNow - running);
    const seconds = (performance.now() - started) / 1000;
    bar.update(done, { started: submittedNow, failed, rate: (done / seconds).toFixed(0) });
    if (submittedNow === n && running === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await submitting;
  const wallMs = performance.now() - started;
  bar.stop();

  // Check every result and measure latency from the runs' own timestamps.
  const latencies: number[] = [];
  let wrong = 0;
  for (let i = 0; i < n; i += 1) {
    const { run } = await client.getWorkflow({ runId: ids[i] as string });
    if (!run) continue;
    if (run.status !== RunStatus.COMPLETED) failed++;
    else if (decodePayload(run.result) !== expectedSummary(inputs[i] as PipelineInput)) wrong++;
    const created = timestampMs(run.createdAt);
    const completed = timestampMs(run.completedAt);
    if (created !== undefined && completed !== undefined) latencies.push(completed - created);
  }
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  const steps = (n - failed) * 4;
  out("");
  out("Summary");
  out(`  workflows   ${n} started, ${n - failed} completed, ${failed} failed, ${wrong} wrong results`);
  out(`  wall time   ${(wallMs / 1000).toFixed(2)} s`);
  out(`  throughput  ${((n / wallMs) * 1000).toFixed(0)} workflows/s, ${((steps / wallMs) * 1000).toFixed(0)} steps/s`);
  out(`  latency     p50 ${pct(50)} ms, p90 ${pct(90)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms (start → completion)`);
  return failed === 0 && wrong === 0;
}

let ok = true;
try {
  if (opts.workflows > 0) ok = await runDemo(opts.workflows);
} catch (err) {
  console.error("demo failed:", err);
  ok = false;
}
if (opts.serve) {
  out(`Serving on ${stack.journalUrl}; press Ctrl-C to stop.`);
} else {
  await stop(ok ? 0 : 1);
}
