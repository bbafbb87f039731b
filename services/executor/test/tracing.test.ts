// The executor's part of one trace per run, with an in-memory exporter: each task's CONSUMER span
// continues the context in the message headers (the journal's publish span), the handler runs in
// it, failed attempts, retries and rate-limit pauses are its events, the recorded StepResult
// carries its traceparent (the journal's RecordResultBatch span links it from there), and a flush
// span holds the RecordResultBatch client span and the ack batch. Pulls that brought messages are
// `receive` spans.
import { randomBytes } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { type StepTask, StepTaskSchema } from "@weft/contracts";
import { taskStream, taskSubject } from "@weft/runtime";
import { defineApp, defineStep, defineWorkflow, RateLimitError, type StepDefinition } from "@weft/sdk";
import { isolatedName, testNatsUrl } from "@weft/testkit";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { executorConfig } from "../src/config.ts";
import { type RunningExecutor, startExecutor } from "../src/executor.ts";
import { createTaskStream, type FakeJournal, makeTask, startFakeJournal, testLogger } from "./support.ts";

const exporter = new InMemorySpanExporter();
let nc: NatsConnection;
let prefix: string;
let journal: FakeJournal;
let executor: RunningExecutor | undefined;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
});
afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(async (ctx) => {
  exporter.reset();
  prefix = isolatedName(ctx.task.name, 20);
  nc = await connect({ servers: testNatsUrl() });
  await createTaskStream(nc, prefix, 1);
  journal = await startFakeJournal(prefix, 1);
});

afterEach(async () => {
  await executor?.stop();
  executor = undefined;
  await journal.close();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(taskStream(prefix)).catch(() => {});
  await nc.close();
});

// biome-ignore lint/suspicious/noExplicitAny: steps of any argument and result types
async function start(steps: StepDefinition<any, any>[]) {
  executor = await startExecutor({
    config: executorConfig({ prefix, port: 0, journalUrl: journal.url, fetchExpiresMs: 1_000, shardLeaseMs: 3_000 }),
    app: defineApp({
      version: "test",
      workflows: [defineWorkflow({ name: "wf", handler: async () => null })],
      steps,
    }),
    logger: testLogger(),
  });
  return executor;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** Publishes a task the way the journal does: the publish span's context in the headers. */
async function publishTraced(task: StepTask) {
  const publish = { traceId: hex(16), spanId: hex(8) };
  const h = headers();
  h.set("traceparent", `00-${publish.traceId}-${publish.spanId}-01`);
  await jetstream(nc).publish(taskSubject(prefix, task.shard), toBinary(StepTaskSchema, task), {
    msgID: `${task.stepId}.${task.dispatch}`,
    headers: h,
  });
  return publish;
}

const spans = () => exporter.getFinishedSpans();
const traceparentOf = (s: ReadableSpan) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;
const childrenOf = (parent: ReadableSpan) =>
  spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
const executionOf = (stepId: string) => {
  const span = spans().find((s) => s.name.startsWith("execute ") && s.attributes["weft.step.id"] === stepId);
  if (!span) throw new Error(`no execution span for ${stepId}`);
  return span;
};

describe("one trace per run, the executor's part", () => {
  test("the execution span continues the header context; attempts, retries and the result's traceparent", async () => {
    await start([
      defineStep({
        name: "flaky",
        kind: "query",
        retry: { initialBackoffMs: 20, backoffCoefficient: 2, maxAttempts: 5 },
        handler: (_: null, ctx) => {
          // Handler code runs inside the execution span.
          const active = trace.getActiveSpan() as unknown as ReadableSpan | undefined;
          if (active?.name !== "execute flaky") throw new Error(`active span is ${active?.name}`);
          if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
          return ctx.attempt;
        },
      }),
    ]);
    const task = makeTask({ stepName: "flaky", seq: 7 });
    const publish = await publishTraced(task);
    await journal.waitForResults(1);
    await expect.poll(() => spans().some((s) => s.name.startsWith("ack "))).toBe(true);

    const exec = executionOf(task.stepId);
    expect(exec.name).toBe("execute flaky");
    expect(exec.kind).toBe(SpanKind.CONSUMER);
    expect(exec.spanContext().traceId).toBe(publish.traceId);
    expect(exec.parentSpanContext?.spanId).toBe(publish.spanId);
    // Exactly these: every attribute of a per-step span costs the SDK's checks and the exporter's
    // encoding (the run's id is on the trace's root, the step's name in the span's).
    expect(exec.attributes).toEqual({
      "messaging.system": "nats",
      "messaging.operation.name": "execute",
      "messaging.destination.name": taskSubject(prefix, 0),
      "messaging.message.id": `${task.stepId}.1`,
      "weft.step.id": task.stepId,
      "weft.step.kind": "query",
      "weft.task.delivery_count": 1,
      "weft.step.attempt": 3,
    });

    // Attempts are events, not spans: each failed one an exception event naming it, each later
    // one an attempt event; a step that succeeds at once is its execution span alone.
    expect(childrenOf(exec)).toEqual([]);
    const exceptions = exec.events.filter((e) => e.name === "exception");
    expect(exceptions.map((e) => [e.attributes?.["weft.step.attempt"], e.attributes?.["exception.message"]])).toEqual([
      [1, "boom 1"],
      [2, "boom 2"],
    ]);
    expect(exceptions[0]!.attributes?.["exception.type"]).toBe("Error");
    expect(String(exceptions[0]!.attributes?.["exception.stacktrace"])).toContain("boom 1");
    expect(exec.events.filter((e) => e.name === "attempt").map((e) => e.attributes?.["weft.step.attempt"])).toEqual([
      2, 3,
    ]);
    expect(exec.events.map((e) => e.name)).toEqual(["exception", "retry", "attempt", "exception", "retry", "attempt"]);
    expect(exec.status.code).toBe(SpanStatusCode.UNSET);

    // Retries are events with their backoff (equal jitter: [base/2, base], base 20·2^(n-1)).
    const retries = exec.events.filter((e) => e.name === "retry");
    expect(retries.map((e) => e.attributes?.["weft.step.attempt"])).toEqual([1, 2]);
    expect(retries[0]!.attributes?.["weft.retry.backoff_ms"]).toBeGreaterThanOrEqual(10);
    expect(retries[0]!.attributes?.["weft.retry.backoff_ms"]).toBeLessThanOrEqual(20);
    expect(retries[1]!.attributes?.["weft.retry.backoff_ms"]).toBeGreaterThanOrEqual(20);
    expect(retries[1]!.attributes?.["weft.retry.backoff_ms"]).toBeLessThanOrEqual(40);

    // The recorded result names the execution span, for the journal's RecordResultBatch links.
    expect(journal.recorded.get(task.stepId)?.traceparent).toBe(traceparentOf(exec));

    // The flush carries it (the journal's span of the call links the execution, from the result's
    // traceparent); the RPC client span and the ack batch are its children.
    const flush = spans().find((s) => s.name === "flush");
    expect(flush?.links).toEqual([]);
    expect(flush?.attributes["weft.batch.size"]).toBe(1);
    expect(flush?.attributes["weft.batch.bytes"]).toBeGreaterThan(0);
    const underFlush = childrenOf(flush!);
    const rpc = underFlush.find((s) => s.name === "weft.v1.JournalService/RecordResultBatch");
    expect(rpc?.kind).toBe(SpanKind.CLIENT);
    const ack = underFlush.find((s) => s.name === `ack ${taskStream(prefix)}`);
    expect(ack?.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "settle",
      "messaging.batch.message_count": 1,
    });

    // The pull that brought it is a receive span (ended when the pull expires), linked from the execution.
    const isReceive = (s: ReadableSpan) => s.name === `receive ${taskSubject(prefix, 0)}`;
    await expect.poll(() => spans().some(isReceive), { timeout: 3_000 }).toBe(true);
    const receive = spans().find(isReceive);
    expect(receive?.attributes).toMatchObject({ "messaging.operation.type": "receive", "messaging.system": "nats" });
    expect(exec.links.map((l) => l.context.spanId)).toContain(receive?.spanContext().spanId);
  });

  test("a rate-limited attempt is an event, and the pause before the next one too", async () => {
    let limited = false;
    await start([
      defineStep({
        name: "llm",
        kind: "action",
        handler: () => {
          if (!limited) {
            limited = true;
            throw new RateLimitError("slow down", { retryAfterMs: 200 });
          }
          return "ok";
        },
      }),
    ]);
    const task = makeTask({ stepName: "llm" });
    await publishTraced(task);
    await journal.waitForResults(1);
    await expect.poll(() => spans().some((s) => s.name.startsWith("execute "))).toBe(true);
    const exec = executionOf(task.stepId);
    const names = exec.events.map((e) => e.name);
    expect(names).toEqual(["rate-limited", "rate-limit pause"]);
    expect(exec.events[0]!.attributes?.["weft.retry_after_ms"]).toBe(200);
    expect(exec.events[1]!.attributes?.["weft.pause_ms"]).toBeGreaterThan(100);
    expect(childrenOf(exec)).toEqual([]);
  });

  test("every result of a batch names its own execution span, for the journal's links", async () => {
    await start([defineStep({ name: "echo", kind: "query", handler: (n: number) => n })]);
    journal.recordDelayMs = 300; // results pile up behind the first call
    const tasks = Array.from({ length: 300 }, (_, i) => makeTask({ stepName: "echo", args: i }));
    await Promise.all(tasks.map((t) => publishTraced(t)));
    await journal.waitForResults(tasks.length);
    await expect.poll(() => spans().filter((s) => s.name.startsWith("ack ")).length).toBe(journal.batches.length);
    expect(journal.batches.some((n) => n > 128)).toBe(true);
    for (const t of tasks) {
      const exec = executionOf(t.stepId);
      expect(journal.recorded.get(t.stepId)?.traceparent).toBe(traceparentOf(exec));
      expect(childrenOf(exec)).toEqual([]);
    }
    // One flush span per call, sized; no links (they would repeat the journal's).
    const flushes = spans().filter((s) => s.name === "flush");
    const sizes = (list: unknown[]) => list.map(Number).sort((a, b) => a - b);
    expect(sizes(flushes.map((s) => s.attributes["weft.batch.size"]))).toEqual(sizes(journal.batches));
    for (const f of flushes) expect(f.links).toEqual([]);
  });
});
