// The executor against real JetStream and a journal peer the test controls: retries, failures,
// timeouts, on-complete hooks, rate limits across executors, backpressure, and lossless drains.

import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodePayload, StepKind } from "@weft/contracts";
import { encodeRunIds, runEndsSubject, taskStream } from "@weft/runtime";
import {
  type App,
  defineApp,
  defineStep,
  defineWorkflow,
  NonRetryableError,
  RateLimitError,
  type StepDefinition,
  type WorkflowDefinition,
} from "@weft/sdk";
import { isolatedName, testNatsUrl } from "@weft/testkit";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { executorConfig } from "../src/config.ts";
import { type RunningExecutor, startExecutor } from "../src/executor.ts";
import {
  consumerState,
  createTaskStream,
  type FakeJournal,
  makeTask,
  publishTasks,
  startFakeJournal,
  testLogger,
} from "./support.ts";

let nc: NatsConnection;
let prefix: string;
let journal: FakeJournal;
const executors: RunningExecutor[] = [];

beforeEach(async (ctx) => {
  prefix = isolatedName(ctx.task.name, 20);
  nc = await connect({ servers: testNatsUrl() });
  await createTaskStream(nc, prefix, 2);
  journal = await startFakeJournal(prefix, 2);
});

afterEach(async () => {
  await Promise.all(executors.splice(0).map((e) => e.stop()));
  await journal.close();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(taskStream(prefix)).catch(() => {});
  await nc.close();
});

// biome-ignore lint/suspicious/noExplicitAny: steps of any argument and result types
type AnyStep = StepDefinition<any, any>;
// biome-ignore lint/suspicious/noExplicitAny: workflows of any argument and result types
type AnyWorkflow = WorkflowDefinition<any, any>;

function appOf(
  steps: AnyStep[],
  workflows: AnyWorkflow[] = [defineWorkflow({ name: "wf", handler: async () => null })],
): App {
  return defineApp({ version: "test", workflows, steps });
}

async function start(app: App, overrides: Parameters<typeof executorConfig>[0] = {}) {
  const executor = await startExecutor({
    config: executorConfig({
      prefix,
      port: 0,
      journalUrl: journal.url,
      fetchExpiresMs: 1_000,
      shardLeaseMs: 3_000,
      drainTimeoutMs: 5_000,
      ...overrides,
    }),
    app,
    logger: testLogger(),
  });
  executors.push(executor);
  return executor;
}

const resultOf = (stepId: string) => {
  const r = journal.recorded.get(stepId);
  if (!r) throw new Error(`no result for ${stepId}`);
  return r.outcome.case === "result"
    ? { ok: true as const, value: decodePayload(r.outcome.value), attempt: r.attempt }
    : { ok: false as const, failure: r.outcome.value!, attempt: r.attempt };
};

describe("running steps", () => {
  test("records results and acks the tasks only after they are recorded", async () => {
    const double = defineStep({ name: "double", kind: "query", handler: (n: number) => n * 2 });
    await start(appOf([double]));
    const tasks = Array.from({ length: 20 }, (_, i) => makeTask({ stepName: "double", args: i, shard: i % 2 }));
    await publishTasks(nc, prefix, tasks);
    await journal.waitForResults(20);
    for (const [i, t] of tasks.entries()) expect(resultOf(t.stepId)).toEqual({ ok: true, value: i * 2, attempt: 1 });
    await expect.poll(() => consumerState(nc, prefix, 0)).toMatchObject({ pending: 0, ackPending: 0 });
    await expect.poll(() => consumerState(nc, prefix, 1)).toMatchObject({ pending: 0, ackPending: 0 });
  });

  test("a step failing twice then succeeding records attempt 3 after backoffs within bounds", async () => {
    const times: number[] = [];
    const flaky = defineStep({
      name: "flaky",
      kind: "query",
      retry: { initialBackoffMs: 100, backoffCoefficient: 2, maxAttempts: 5 },
      handler: (_: null, ctx) => {
        times.push(Date.now());
        if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
        return { attempt: ctx.attempt };
      },
    });
    await start(appOf([flaky]));
    const task = makeTask({ stepName: "flaky" });
    await publishTasks(nc, prefix, [task]);
    await journal.waitForResults(1);
    expect(resultOf(task.stepId)).toEqual({ ok: true, value: { attempt: 3 }, attempt: 3 });
    const [t1, t2, t3] = times as [number, number, number];
    // Equal jitter: the wait after attempt n is in [base/2, base], base = 100·2^(n-1).
    expect(t2 - t1).toBeGreaterThanOrEqual(49);
    expect(t2 - t1).toBeLessThan(100 + 80);
    expect(t3 - t2).toBeGreaterThanOrEqual(99);
    expect(t3 - t2).toBeLessThan(200 + 80);
  });

  test("NonRetryableError fails the step after one attempt; exhausted retries keep the last error", async () => {
    let calls = 0;
    const fatal = defineStep({
      name: "fatal",
      kind: "query",
      handler: () => {
        calls++;
        throw new NonRetryableError("bad input");
      },
    });
    const always = defineStep({
      name: "always",
      kind: "mutation",
      retry: { maxAttempts: 2, initialBackoffMs: 10 },
      handler: (_: null, ctx) => {
        throw new Error(`nope ${ctx.attempt}`);
      },
    });
    await start(appOf([fatal, always]));
    const a = makeTask({ stepName: "fatal" });
    const b = makeTask({ stepName: "always" });
    await publishTasks(nc, prefix, [a, b]);
    await journal.waitForResults(2);
    const ra = resultOf(a.stepId);
    expect(ra.ok).toBe(false);
    expect(ra).toMatchObject({ attempt: 1, failure: { name: "NonRetryableError", message: "bad input" } });
    expect(calls).toBe(1);
    expect(resultOf(b.stepId)).toMatchObject({ ok: false, attempt: 2, failure: { name: "Error", message: "nope 2" } });
  });

  test("a step over its timeout fails with TimeoutError and its signal aborts", async () => {
    let sawAbort = false;
    const slow = defineStep({
      name: "slow",
      kind: "action",
      timeoutMs: 100,
      handler: (_: null, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener("abort", () => {
            sawAbort = true;
          });
          setTimeout(resolve, 2_000);
        }),
    });
    await start(appOf([slow]));
    const task = makeTask({ stepName: "slow" });
    await publishTasks(nc, prefix, [task]);
    await journal.waitForResults(1);
    expect(resultOf(task.stepId)).toMatchObject({ ok: false, attempt: 1, failure: { name: "TimeoutError" } });
    expect(sawAbort).toBe(true);
  });

  test("an unknown step is recorded as a failure, and ON_COMPLETE runs the workflow's hook", async () => {
    const outcomes: unknown[] = [];
    const wf = defineWorkflow({
      name: "wf",
      handler: async () => 1,
      onComplete: (info, ctx) => {
        outcomes.push({ info, seq: ctx.seq });
      },
    });
    await start(appOf([], [wf]));
    const unknown = makeTask({ stepName: "nope" });
    const outcome = { runId: "r", workflowName: "wf", status: "completed", result: 1 };
    const hook = makeTask({ stepName: "", kind: StepKind.ON_COMPLETE, seq: 0, args: outcome });
    await publishTasks(nc, prefix, [unknown, hook]);
    await journal.waitForResults(2);
    expect(resultOf(unknown.stepId)).toMatchObject({
      ok: false,
      attempt: 1,
      failure: { name: "NonRetryableError", message: expect.stringContaining('unknown step "nope"') },
    });
    expect(resultOf(hook.stepId)).toMatchObject({ ok: true, value: null });
    expect(outcomes).toEqual([{ info: outcome, seq: 0 }]);
  });
});

describe("rate limits", () => {
  test("RateLimitError pauses the handler on another executor too; the attempt is not counted", async () => {
    let limited = false;
    const starts: { executor: string; at: number }[] = [];
    const makeApp = (executor: string) =>
      appOf([
        defineStep({
          name: "llm",
          kind: "action",
          handler: () => {
            starts.push({ executor, at: Date.now() });
            if (!limited) {
              limited = true;
              throw new RateLimitError("slow down", { retryAfterMs: 600 });
            }
            return "ok";
          },
        }),
      ]);
    journal.shardsFor = (id) => (id === "a" ? [0] : [1]);
    await start(makeApp("a"), { executorId: "a" });
    await start(makeApp("b"), { executorId: "b" });
    const first = makeTask({ stepName: "llm", shard: 0 });
    await publishTasks(nc, prefix, [first]);
    await expect.poll(() => starts.length).toBeGreaterThanOrEqual(1);
    const limitedAt = starts[0]!.at;
    // While paused, a task on the other executor's shard waits too.
    const second = makeTask({ stepName: "llm", shard: 1 });
    await publishTasks(nc, prefix, [second]);
    await journal.waitForResults(2);
    const onB = starts.filter((s) => s.executor === "b");
    expect(onB).toHaveLength(1);
    expect(onB[0]!.at - limitedAt).toBeGreaterThanOrEqual(590);
    // The rate-limited attempt did not count: an action (1 attempt) still succeeded, as attempt 1.
    expect(resultOf(first.stepId)).toEqual({ ok: true, value: "ok", attempt: 1 });
    expect(resultOf(second.stepId)).toEqual({ ok: true, value: "ok", attempt: 1 });
  });
});

describe("backpressure", () => {
  test("pulling pauses while held task bytes exceed the maximum", async () => {
    let running = 0;
    let maxRunning = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const big = defineStep({
      name: "big",
      kind: "query",
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate;
        running--;
        return 1;
      },
    });
    const executor = await start(appOf([big]), { maxInflightBytes: 2_000, fetchBatch: 1 });
    const payload = "x".repeat(900);
    const tasks = Array.from({ length: 8 }, () => makeTask({ stepName: "big", args: payload }));
    await publishTasks(nc, prefix, tasks);
    await expect.poll(() => running).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 500));
    // Each task is ~1 KB: pulling stops once ≥ 2,000 bytes are held (three at most, by one pull).
    expect(maxRunning).toBeLessThanOrEqual(3);
    expect(executor.stats.backpressurePauses.bytes).toBeGreaterThan(0);
    release();
    await journal.waitForResults(8);
  });

  test("pulling pauses while the heap is over its maximum, one task at a time still gets through", async () => {
    let running = 0;
    let maxRunning = 0;
    const step = defineStep({
      name: "heavy",
      kind: "query",
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
      },
    });
    // Any heap is over 1 byte: only the progress rule lets tasks in.
    const executor = await start(appOf([step]), { maxHeapBytes: 1 });
    await publishTasks(
      nc,
      prefix,
      Array.from({ length: 6 }, (_, i) => makeTask({ stepName: "heavy", shard: i % 2 })),
    );
    await journal.waitForResults(6);
    expect(maxRunning).toBe(1);
    expect(executor.stats.backpressurePauses.heap).toBeGreaterThan(0);
  });

  test("pulling pauses at the concurrency limit", async () => {
    let running = 0;
    let maxRunning = 0;
    const step = defineStep({
      name: "wait",
      kind: "query",
      handler: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 50));
        running--;
      },
    });
    await start(appOf([step]), { concurrency: 3 });
    await publishTasks(
      nc,
      prefix,
      Array.from({ length: 15 }, (_, i) => makeTask({ stepName: "wait", shard: i % 2 })),
    );
    await journal.waitForResults(15);
    expect(maxRunning).toBeLessThanOrEqual(3);
  });
});

describe("drain", () => {
  test("stop() while steps run loses nothing: everything is recorded or redelivered to the next executor", async () => {
    const seen = new Map<string, number>();
    const app = appOf([
      defineStep({
        name: "work",
        kind: "query",
        handler: async (_: null, ctx) => {
          seen.set(ctx.stepId, (seen.get(ctx.stepId) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 100));
          return ctx.stepId;
        },
      }),
    ]);
    const first = await start(app, { concurrency: 8 });
    const tasks = Array.from({ length: 60 }, (_, i) => makeTask({ stepName: "work", shard: i % 2 }));
    await publishTasks(nc, prefix, tasks);
    await expect.poll(() => journal.recorded.size).toBeGreaterThanOrEqual(5);
    await first.stop();
    const afterFirst = journal.recorded.size;
    expect(afterFirst).toBeLessThan(60);
    // Nothing the first executor took is left dangling: recorded and acked, or given back (nak),
    // so the next executor gets everything well before ack_wait (30 s) would redeliver it.
    await start(app);
    await journal.waitForResults(60);
    for (const t of tasks) expect(resultOf(t.stepId)).toMatchObject({ ok: true, value: t.stepId });
    // Every step ran exactly once: the drain finished what it had started.
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
  });

  test("at the drain deadline running steps are aborted and their tasks given back", async () => {
    const calls: number[] = [];
    const stuck = defineStep({
      name: "stuck",
      kind: "query",
      handler: (_: null, ctx) =>
        new Promise((resolve) => {
          calls.push(ctx.attempt);
          // The first executor's run never ends by itself; the second one's does.
          if (calls.length > 1) resolve("second");
        }),
    });
    const first = await start(appOf([stuck]), { drainTimeoutMs: 200 });
    const task = makeTask({ stepName: "stuck" });
    await publishTasks(nc, prefix, [task]);
    await expect.poll(() => calls.length).toBe(1);
    const stoppedAt = Date.now();
    await first.stop();
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    expect(first.stats.dispatcher.abandoned).toBe(1);
    expect(journal.recorded.size).toBe(0);
    await start(appOf([stuck]));
    await journal.waitForResults(1);
    expect(resultOf(task.stepId)).toMatchObject({ ok: true, value: "second" });
  });

  test("a result whose RecordResultBatch keeps failing is not acked: stop() gives the task back", async () => {
    const step = defineStep({ name: "once", kind: "query", handler: () => "done" });
    journal.failRecord = () => true;
    const first = await start(appOf([step]), { drainTimeoutMs: 300 });
    const task = makeTask({ stepName: "once" });
    await publishTasks(nc, prefix, [task]);
    await expect.poll(() => first.stats.flush.failedCalls).toBeGreaterThanOrEqual(2);
    expect(journal.recorded.size).toBe(0);
    expect((await consumerState(nc, prefix, 0)).ackPending).toBe(1);
    await first.stop();
    journal.failRecord = () => false;
    const restartedAt = Date.now();
    await start(appOf([step]));
    await journal.waitForResults(1);
    // Given back (nak) at the stop, not left to wait for ack_wait (30 s).
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    expect(resultOf(task.stepId)).toMatchObject({ ok: true, value: "done" });
    await expect.poll(() => consumerState(nc, prefix, 0)).toMatchObject({ pending: 0, ackPending: 0 });
  });
});

/** An action `long` that runs until its signal aborts; `aborted()` says whether it did. */
function stepUntilAborted() {
  let aborted = false;
  const long = defineStep({
    name: "long",
    kind: "action",
    handler: (_: null, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          aborted = true;
          resolve("aborted");
        });
      }),
  });
  return { long, aborted: () => aborted };
}

describe("keep-alive and leases", () => {
  test("long steps are heartbeated; a step the journal reports finished is aborted and acked unrecorded", async () => {
    const { long, aborted } = stepUntilAborted();
    await start(appOf([long]), { keepAliveMs: 200 });
    const task = makeTask({ stepName: "long" });
    await publishTasks(nc, prefix, [task]);
    await expect.poll(() => journal.heartbeats.flat()).toContain(task.stepId);
    journal.finished.add(task.stepId);
    await expect.poll(aborted).toBe(true);
    await expect.poll(() => consumerState(nc, prefix, 0)).toMatchObject({ pending: 0, ackPending: 0 });
    expect(journal.recorded.size).toBe(0);
  });

  test("a run the journal ends stops its running step at once (its run-end notice), acked unrecorded", async () => {
    const { long, aborted } = stepUntilAborted();
    // Heartbeats every 10 s: a stop within expect.poll's second is the notice's doing.
    await start(appOf([long]), { keepAliveMs: 10_000 });
    const task = makeTask({ stepName: "long", kind: StepKind.ACTION });
    await publishTasks(nc, prefix, [task]);
    await expect.poll(() => consumerState(nc, prefix, 0)).toMatchObject({ ackPending: 1 });
    const notice = (...runIds: string[]) => nc.publish(runEndsSubject(prefix), encodeRunIds(runIds));
    // Another run's end changes nothing, and costs no call.
    notice("0190ffff-0000-7000-8000-000000000001");
    await nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    // Its own run's end, while the journal says the step still runs (a reset's new generation):
    // checked, and left running.
    notice(task.runId);
    await expect.poll(() => journal.heartbeats).toEqual([[task.stepId]]);
    await new Promise((r) => setTimeout(r, 200));
    expect(aborted()).toBe(false);
    // The journal canceled it with its run: stopped, acked, nothing recorded.
    journal.finished.add(task.stepId);
    notice("0190ffff-0000-7000-8000-000000000002", task.runId);
    await expect.poll(aborted).toBe(true);
    await expect.poll(() => consumerState(nc, prefix, 0)).toMatchObject({ pending: 0, ackPending: 0 });
    expect(journal.recorded.size).toBe(0);
  });

  test("working(), fitted to the consumer's ack_wait, keeps a long task from being redelivered", async () => {
    // A fresh prefix whose consumer redelivers after 1 s without working().
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(taskStream(prefix));
    await createTaskStream(nc, prefix, 2, 1_000);
    const runs: string[] = [];
    const makeApp = (executor: string) =>
      appOf([
        defineStep({
          name: "long",
          kind: "query",
          handler: async () => {
            runs.push(executor);
            await new Promise((r) => setTimeout(r, 2_500));
            return executor;
          },
        }),
      ]);
    // No keep-alive setting: the executor fits it to the consumer's ack_wait.
    await start(makeApp("a"), { executorId: "a" });
    await start(makeApp("b"), { executorId: "b" });
    const task = makeTask({ stepName: "long" });
    await publishTasks(nc, prefix, [task]);
    await journal.waitForResults(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(runs).toHaveLength(1);
    expect(journal.deliveries.get(task.stepId)).toBe(1);
  });

  test("follows the shard leases: a lost shard is no longer pulled, a gained one is", async () => {
    const step = defineStep({ name: "s", kind: "query", handler: () => 1 });
    let shards = [0, 1];
    journal.shardsFor = () => shards;
    const executor = await start(appOf([step]), { shardLeaseMs: 1_000 });
    expect(executor.shards()).toEqual([0, 1]);
    shards = [1];
    await expect.poll(() => executor.shards(), { timeout: 5_000 }).toEqual([1]);
    // Wait for the pull on shard 0 to end, then a task there stays in the stream.
    await new Promise((r) => setTimeout(r, 1_200));
    const onLost = makeTask({ stepName: "s", shard: 0 });
    const onKept = makeTask({ stepName: "s", shard: 1 });
    await publishTasks(nc, prefix, [onLost, onKept]);
    await journal.waitForResults(1);
    await new Promise((r) => setTimeout(r, 300));
    expect([...journal.recorded.keys()]).toEqual([onKept.stepId]);
    expect((await consumerState(nc, prefix, 0)).pending).toBe(1);
    shards = [0, 1];
    await journal.waitForResults(2);
  });

  test("shards whose lease could not be renewed before it expired stop being pulled, and come back", async () => {
    const step = defineStep({ name: "s", kind: "query", handler: () => 1 });
    const executor = await start(appOf([step]), { shardLeaseMs: 1_000 });
    expect(executor.shards()).toEqual([0, 1]);
    journal.failLeases = true;
    await expect.poll(() => executor.shards(), { timeout: 5_000 }).toEqual([]);
    journal.failLeases = false;
    await expect.poll(() => executor.shards(), { timeout: 5_000 }).toEqual([0, 1]);
    await publishTasks(nc, prefix, [makeTask({ stepName: "s" })]);
    await journal.waitForResults(1);
  });
});
