// The journal's part of one trace per run, with an in-memory exporter: StartWorkflow's SERVER span
// continues the client's span and is persisted as the run's traceparent (StartWorkflows: a root
// span per run, linked to the call); each task publish is a
// PRODUCER span under the turn that journaled the step, and the message carries that span;
// RecordResultBatch links every execution it carries; the end of a run is a span in its trace;
// Postgres work shows as CLIENT spans with the database conventions.
import { randomBytes } from "node:crypto";
import { context, propagation, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { encodePayload, RunStatus, StepKind, TurnStatus } from "@weft/contracts";
import { taskSubject } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { claimRun, eventually, type Harness, startHarness, takeAllTasks } from "./harness.ts";

const exporter = new InMemorySpanExporter();
let h: Harness;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  h = await startHarness("journal tracing", { dispatchTimeoutMs: 2000 });
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
  trace.disable();
  propagation.disable();
  context.disable();
});

const hex = (bytes: number) => randomBytes(bytes).toString("hex");
/** A span of another process (client, coordinator turn, executor), as its W3C traceparent. */
const foreignSpan = (traceId = hex(16)) => {
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
};
const spans = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const traceparentOf = (s: ReadableSpan) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`;
const serverSpan = (method: string, traceId?: string) =>
  spans().filter(
    (s) =>
      s.kind === SpanKind.SERVER && s.name.endsWith(`/${method}`) && (!traceId || s.spanContext().traceId === traceId),
  );
const childrenOf = (parent: ReadableSpan) => spans().filter((s) => parentOf(s) === parent.spanContext().spanId);

async function startTraced() {
  const client = foreignSpan();
  const res = await h.workflows.startWorkflow(
    { workflowName: "pipeline", args: encodePayload({ n: 1 }) },
    { headers: { traceparent: client.traceparent } },
  );
  const run = res.run;
  if (!run) throw new Error("no run");
  const [start] = serverSpan("StartWorkflow", client.traceId);
  if (!start) throw new Error("no StartWorkflow span");
  return { client, run, start };
}

describe("one trace per run, the journal's part", () => {
  test("StartWorkflow continues the client's span and persists its own as the run's traceparent", async () => {
    const { client, run, start } = await startTraced();
    expect(start.kind).toBe(SpanKind.SERVER);
    expect(start.spanContext().traceId).toBe(client.traceId);
    expect(parentOf(start)).toBe(client.spanId);
    expect(start.attributes["rpc.method"]).toBe("StartWorkflow");
    const [row] = await h.query<{ traceparent: string }>("SELECT traceparent FROM runs WHERE id = $1", [run.id]);
    expect(row?.traceparent).toBe(traceparentOf(start));
    expect(run.traceparent).toBe(traceparentOf(start));

    // Its statements are CLIENT spans under it, with the database conventions.
    const insert = childrenOf(start).find((s) => s.name === "INSERT runs");
    expect(insert?.kind).toBe(SpanKind.CLIENT);
    expect(insert?.attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.operation.name": "INSERT",
      "db.collection.name": "runs",
      "db.query.summary": "INSERT runs",
      "db.namespace": expect.any(String),
    });
    expect(insert?.attributes["db.operation.batch.size"]).toBeGreaterThanOrEqual(1);
  });

  test("StartWorkflows gives every run a trace of its own, linked to the call in the client's trace", async () => {
    const client = foreignSpan();
    const res = await h.workflows.startWorkflows(
      { starts: [{ workflowName: "pipeline" }, { workflowName: "pipeline", args: encodePayload(2) }] },
      { headers: { traceparent: client.traceparent } },
    );
    const [call] = serverSpan("StartWorkflows", client.traceId);
    expect(parentOf(call!)).toBe(client.spanId);
    const traces = new Set<string>();
    for (const result of res.results) {
      const run = result.run!;
      const start = spans().find((s) => s.name === "start pipeline" && s.attributes["weft.run.id"] === run.id);
      expect(start, `start span of ${run.id}`).toBeDefined();
      expect(parentOf(start!)).toBeUndefined();
      expect(start!.links.map((l) => l.context.spanId)).toEqual([call!.spanContext().spanId]);
      expect(run.traceparent).toBe(traceparentOf(start!));
      traces.add(start!.spanContext().traceId);
    }
    expect(traces.size).toBe(2);
    expect(traces.has(client.traceId)).toBe(false);
  });

  test("publishes are PRODUCER spans under the turn; the task's headers carry them; results link back", async () => {
    const { client, run, start } = await startTraced();
    const claimed = await claimRun(h, run.id);
    const turn = foreignSpan(client.traceId);
    const committed = await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId: run.id,
          leaseToken: claimed.leaseToken,
          generation: 1,
          traceparent: turn.traceparent,
          newSteps: [
            { seq: 1, name: "analyzeA", kind: StepKind.ACTION },
            { seq: 2, name: "analyzeB", kind: StepKind.QUERY },
          ],
        },
      ],
    });
    expect(committed.results[0]?.status).toBe(TurnStatus.COMMITTED);

    // The commit's transaction is a CLIENT span under the CommitTurns SERVER span, its statements under it.
    const [commitSpan] = serverSpan("CommitTurns");
    if (!commitSpan) throw new Error("no CommitTurns span");
    expect(commitSpan.attributes["weft.batch.size"]).toBe(1);
    const tx = childrenOf(commitSpan).find((s) => s.name === "transaction commitTurns");
    expect(tx?.kind).toBe(SpanKind.CLIENT);
    expect(tx?.attributes).toMatchObject({ "db.system.name": "postgresql", "db.operation.name": "TRANSACTION" });
    if (!tx) throw new Error("no transaction span");
    const statements = childrenOf(tx).map((s) => s.name);
    expect(statements).toContain("INSERT steps");
    expect(statements).toContain("UPDATE runs");

    const tasks = await takeAllTasks(h, 2);
    expect(tasks).toHaveLength(2);
    // A publish span ends with JetStream's ack, which may come after the consumer got the message.
    const publishes = await eventually(async () => {
      const found = spans().filter((s) => s.name.startsWith("publish ") && s.spanContext().traceId === client.traceId);
      return found.length === 2 && found;
    });
    expect(publishes.map((p) => p.name).sort()).toEqual(["publish analyzeA", "publish analyzeB"]);
    for (const task of tasks) {
      const publish = publishes.find((p) => p.attributes["weft.step.id"] === task.task.stepId);
      if (!publish) throw new Error(`no publish span for ${task.task.stepName}`);
      expect(publish.kind).toBe(SpanKind.PRODUCER);
      expect(parentOf(publish)).toBe(turn.spanId);
      // Exactly these: every attribute of a per-step span costs the SDK's checks and the exporter's
      // encoding (the run's id is on the trace's root, the step's name in the span's).
      expect(publish.attributes).toEqual({
        "messaging.system": "nats",
        "messaging.operation.name": "publish",
        "messaging.destination.name": taskSubject(h.env.prefix, run.shard),
        "messaging.message.id": `${task.task.stepId}.1`,
        "weft.step.id": task.task.stepId,
      });
      expect(task.traceparent).toBe(traceparentOf(publish));
    }

    // The executor's spans (children of the publishes) come back with the results: the batch links them.
    const executions = tasks.map(() => foreignSpan(client.traceId));
    const recorded = await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: tasks.map((t, i) => ({
        stepId: t.task.stepId,
        runId: t.task.runId,
        generation: 1,
        attempt: 1,
        traceparent: executions[i]?.traceparent ?? "",
        outcome: { case: "result", value: encodePayload(i) },
      })),
    });
    expect(recorded.acks).toHaveLength(2);
    const [batch] = serverSpan("RecordResultBatch");
    if (!batch) throw new Error("no RecordResultBatch span");
    expect(batch.attributes["weft.batch.size"]).toBe(2);
    expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(executions.map((e) => e.spanId).sort());

    // The completing turn ends the run: `run completed` sits in the run's trace, under StartWorkflow.
    const again = await claimRun(h, run.id);
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId: run.id,
          leaseToken: again.leaseToken,
          generation: 1,
          traceparent: foreignSpan(client.traceId).traceparent,
          completion: { outcome: { case: "result", value: encodePayload("done") } },
        },
      ],
    });
    const ended = spans().find((s) => s.name === "run completed" && s.attributes["weft.run.id"] === run.id);
    expect(ended?.spanContext().traceId).toBe(client.traceId);
    expect(ended && parentOf(ended)).toBe(start.spanContext().spanId);
    const got = await h.workflows.getWorkflow({ runId: run.id });
    expect(got.run?.status).toBe(RunStatus.COMPLETED);
  });

  test("links past the per-span limit go on child spans, none is dropped", async () => {
    const { client, run } = await startTraced();
    const claimed = await claimRun(h, run.id);
    const n = 300;
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId: run.id,
          leaseToken: claimed.leaseToken,
          generation: 1,
          traceparent: foreignSpan(client.traceId).traceparent,
          newSteps: Array.from({ length: n }, (_, i) => ({ seq: i + 1, name: `s${i}`, kind: StepKind.ACTION })),
        },
      ],
    });
    const tasks = await takeAllTasks(h, n);
    expect(tasks).toHaveLength(n);
    const executions = tasks.map(() => foreignSpan(client.traceId));
    exporter.reset();
    await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: tasks.map((t, i) => ({
        stepId: t.task.stepId,
        runId: t.task.runId,
        generation: 1,
        attempt: 1,
        traceparent: executions[i]?.traceparent ?? "",
        outcome: { case: "result", value: encodePayload(i) },
      })),
    });
    const batchSpans = spans().filter((s) => /RecordResultBatch/.test(s.name));
    expect(batchSpans.length).toBeGreaterThanOrEqual(3);
    for (const s of batchSpans) expect(s.droppedLinksCount).toBe(0);
    const linked = new Set(batchSpans.flatMap((s) => s.links.map((l) => l.context.spanId)));
    expect(linked.size).toBe(n);
    await h.workflows.cancelWorkflow({ runId: run.id });
  });

  test("the sweeper's republish is a publish span under the turn, with a `republished` event", async () => {
    const { client, run } = await startTraced();
    const claimed = await claimRun(h, run.id);
    const turn = foreignSpan(client.traceId);
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId: run.id,
          leaseToken: claimed.leaseToken,
          generation: 1,
          traceparent: turn.traceparent,
          newSteps: [{ seq: 1, name: "lost", kind: StepKind.ACTION }],
        },
      ],
    });
    const [first] = await takeAllTasks(h, 1);
    await h.query("UPDATE steps SET dispatched_at = now() - interval '1 hour' WHERE run_id = $1", [run.id]);
    const republish = await eventually(async () =>
      spans().find((s) => s.name === "publish lost" && s.events.some((e) => e.name === "republished")),
    );
    expect(parentOf(republish)).toBe(turn.spanId);
    expect(republish.attributes["messaging.message.id"]).toBe(`${first?.task.stepId}.2`);
    const [again] = await takeAllTasks(h, 1);
    expect(again?.traceparent).toBe(traceparentOf(republish));

    // Canceling ends the run in its trace too.
    await h.workflows.cancelWorkflow({ runId: run.id });
    const canceled = spans().find((s) => s.name === "run canceled" && s.attributes["weft.run.id"] === run.id);
    expect(canceled?.spanContext().traceId).toBe(client.traceId);
  });
});
