// GET /metrics on the executor port after traffic: steps by name and outcome, attempts, retries,
// rate-limit pauses, flush batch sizes and latency, fetch sizes, leases, in-flight gauges, and the
// queue lag of each owned shard (polled from the consumer info).
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { taskStream } from "@weft/runtime";
import { defineApp, defineStep, defineWorkflow, NonRetryableError, RateLimitError } from "@weft/sdk";
import { isolatedName, testNatsUrl } from "@weft/testkit";
import { afterEach, beforeEach, expect, test } from "vitest";
import { executorConfig } from "../src/config.ts";
import { type RunningExecutor, startExecutor } from "../src/executor.ts";
import { createTaskStream, type FakeJournal, makeTask, publishTasks, startFakeJournal, testLogger } from "./support.ts";

let nc: NatsConnection;
let prefix: string;
let journal: FakeJournal;
let executor: RunningExecutor | undefined;
let releaseBlocked: (() => void) | undefined;

beforeEach(async (ctx) => {
  prefix = isolatedName(ctx.task.name, 20);
  nc = await connect({ servers: testNatsUrl() });
  await createTaskStream(nc, prefix, 2);
  journal = await startFakeJournal(prefix, 2);
});

afterEach(async () => {
  releaseBlocked?.();
  await executor?.stop();
  await journal.close();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(taskStream(prefix)).catch(() => {});
  await nc.close();
});

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return res.text();
}

/** The value of one sample (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

test("/metrics exposes steps, attempts, retries, pauses, flushes, fetches, leases and queue lag", async () => {
  let release!: () => void;
  const blocked = new Promise<void>((r) => {
    release = r;
  });
  let limited = false;
  executor = await startExecutor({
    config: executorConfig({
      prefix,
      port: 0,
      journalUrl: journal.url,
      fetchExpiresMs: 1_000,
      shardLeaseMs: 3_000,
      queueLagIntervalMs: 100,
    }),
    app: defineApp({
      version: "test",
      workflows: [defineWorkflow({ name: "wf", handler: async () => null })],
      steps: [
        defineStep({ name: "ok", kind: "query", handler: (n: number) => n }),
        defineStep({
          name: "flaky",
          kind: "query",
          retry: { initialBackoffMs: 10, maxAttempts: 2 },
          handler: (_: null, ctx) => {
            if (ctx.attempt < 2) throw new Error("once");
            return "ok";
          },
        }),
        defineStep({
          name: "fatal",
          kind: "query",
          handler: () => {
            throw new NonRetryableError("no");
          },
        }),
        defineStep({
          name: "llm",
          kind: "action",
          handler: () => {
            if (!limited) {
              limited = true;
              throw new RateLimitError("slow down", { retryAfterMs: 50 });
            }
            return "ok";
          },
        }),
        defineStep({ name: "blocked", kind: "action", handler: () => blocked }),
      ],
    }),
    logger: testLogger(),
  });

  releaseBlocked = release;
  const tasks = [
    ...Array.from({ length: 5 }, (_, i) => makeTask({ stepName: "ok", args: i, shard: i % 2 })),
    makeTask({ stepName: "flaky" }),
    makeTask({ stepName: "fatal" }),
    makeTask({ stepName: "llm" }),
    makeTask({ stepName: "nope" }),
  ];
  await publishTasks(nc, prefix, tasks);
  await journal.waitForResults(tasks.length);
  // One task held by a running handler: the shard's queue lag shows it (delivered, unacked).
  await publishTasks(nc, prefix, [makeTask({ stepName: "blocked", shard: 1 })]);

  // (acks reach the server asynchronously, and the lag is polled: wait for both shards to settle)
  await expect
    .poll(
      async () => {
        const text = await scrape(executor!.port);
        return [0, 1].map((shard) => sample(text, "weft_executor_queue_lag", { shard: String(shard) }));
      },
      { timeout: 5_000 },
    )
    .toEqual([0, 1]);
  const text = await scrape(executor.port);
  expect(sample(text, "weft_executor_queue_messages", { shard: "1", state: "ack_pending" })).toBe(1);
  expect(sample(text, "weft_executor_handlers_in_flight")).toBe(1);
  expect(sample(text, "weft_executor_held_tasks")).toBe(1);
  expect(sample(text, "weft_executor_held_bytes")).toBeGreaterThan(0);
  expect(sample(text, "weft_executor_shard_leases")).toBe(2);

  expect(sample(text, "weft_executor_steps_started_total", { step: "ok" })).toBe(5);
  expect(sample(text, "weft_executor_steps_finished_total", { step: "ok", outcome: "completed" })).toBe(5);
  expect(sample(text, "weft_executor_steps_finished_total", { step: "fatal", outcome: "failed" })).toBe(1);
  expect(sample(text, "weft_executor_steps_failed_total", { step: "fatal" })).toBe(1);
  expect(sample(text, "weft_executor_steps_failed_total", { step: "(unknown)" })).toBe(1);
  expect(sample(text, "weft_executor_steps_started_total", { step: "blocked" })).toBe(1);
  expect(sample(text, "weft_executor_step_attempts_total", { step: "flaky" })).toBe(2);
  expect(sample(text, "weft_executor_step_retries_total", { step: "flaky" })).toBe(1);
  expect(sample(text, "weft_executor_rate_limit_pauses_total", { step: "llm" })).toBe(1);
  expect(sample(text, "weft_executor_step_attempts_total", { step: "llm" })).toBe(2);
  expect(sample(text, "weft_executor_step_seconds_count", { step: "ok" })).toBe(5);

  const batches = journal.batches.length;
  expect(sample(text, "weft_executor_flush_batch_results_count")).toBe(batches);
  expect(sample(text, "weft_executor_flush_batch_results_sum")).toBe(tasks.length);
  expect(sample(text, "weft_executor_flush_batch_bytes_sum")).toBeGreaterThan(0);
  expect(sample(text, "weft_executor_flush_seconds_count")).toBe(batches);
  expect(sample(text, "weft_executor_record_failures_total")).toBe(0);
  expect(sample(text, "weft_executor_acks_total")).toBe(tasks.length);
  expect(sample(text, "weft_executor_buffered_results")).toBe(0);
  expect(text).toContain("weft_executor_backpressure_pauses_total");
  // Node's defaults (heap) ride along, labelled with the service.
  expect(sample(text, "weft_nodejs_heap_size_used_bytes", { service: "executor" })).toBeGreaterThan(0);

  release();
  await journal.waitForResults(tasks.length + 1);
  await expect
    .poll(async () => sample(await scrape(executor!.port), "weft_executor_queue_lag", { shard: "1" }))
    .toBe(0);
  // A pull is observed when it ends (full, or expired).
  await expect
    .poll(async () => sample(await scrape(executor!.port), "weft_executor_fetch_batch_size_sum"), { timeout: 3_000 })
    .toBeGreaterThanOrEqual(tasks.length + 1);
  const missing = await fetch(`http://127.0.0.1:${executor.port}/nothing`);
  expect(missing.status).toBe(404);
});

test("a failing RecordResultBatch and backpressure pauses are counted", async () => {
  let fail = true;
  journal.failRecord = () => fail;
  executor = await startExecutor({
    config: executorConfig({
      prefix,
      port: 0,
      journalUrl: journal.url,
      fetchExpiresMs: 1_000,
      shardLeaseMs: 3_000,
      concurrency: 1,
    }),
    app: defineApp({
      version: "test",
      workflows: [defineWorkflow({ name: "wf", handler: async () => null })],
      steps: [defineStep({ name: "ok", kind: "query", handler: (n: number) => n })],
    }),
    logger: testLogger(),
  });
  await publishTasks(nc, prefix, [makeTask({ stepName: "ok", args: 1 }), makeTask({ stepName: "ok", args: 2 })]);
  await expect
    .poll(async () => sample(await scrape(executor!.port), "weft_executor_record_failures_total"))
    .toBeGreaterThanOrEqual(2);
  fail = false;
  await journal.waitForResults(2);
  const text = await scrape(executor.port);
  // Concurrency 1 with results held for the journal: pulls waited.
  const paused =
    (sample(text, "weft_executor_backpressure_pauses_total", { reason: "concurrency" }) ?? 0) +
    (sample(text, "weft_executor_backpressure_pauses_total", { reason: "held" }) ?? 0);
  expect(paused).toBeGreaterThan(0);
});
