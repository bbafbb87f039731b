// One trace per workflow run, across processes: the services export OTLP to a collector the
// test runs; the run's trace must hold the client's span, the journal's start, every coordinator
// turn, each step's publish and execution (with retries), links from RecordResultBatch to the
// executions it carried, and the completion, and it must survive an executor being killed.
import { randomBytes } from "node:crypto";
import { RunStatus } from "@weft/contracts";
import { type CollectedSpan, type OtlpCollector, startOtlpCollector } from "@weft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

let collector: OtlpCollector;
let h: Harness;

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

/** A client span context of our own, sent as the W3C traceparent of StartWorkflow. */
function clientSpan() {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function startTraced(workflowName: string, args: unknown) {
  const client = clientSpan();
  const res = await h.client.startWorkflow(
    { workflowName, args: new TextEncoder().encode(JSON.stringify(args)) },
    { headers: { traceparent: client.traceparent } },
  );
  return { ...client, runId: res.run?.id ?? "" };
}

const inTrace = (traceId: string) => collector.spans.filter((s) => s.traceId === traceId);
const named = (spans: CollectedSpan[], pattern: RegExp) => spans.filter((s) => pattern.test(s.name));

beforeAll(async () => {
  collector = await startOtlpCollector();
  h = await startHarness("tracing", {
    executors: 1,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_TRACES_SAMPLER: "parentbased_always_on",
      WEFT_SHARD_LEASE_MS: "2000",
      WEFT_TASK_ACK_WAIT_MS: "3000",
      WEFT_DISPATCH_TIMEOUT_MS: "10000",
    },
  });
});
afterAll(async () => {
  await h?.stop();
  await collector?.close();
});

describe("one trace per workflow run", () => {
  it("joins client, journal, coordinator turns, publishes, executions, retries, batches and completion", async () => {
    const pipeline = await startTraced("loggedPipeline", { id: 1, text: "trace me please" });
    const retrying = await startTraced("retrying", null);
    expect((await h.finished(pipeline.runId)).status).toBe(RunStatus.COMPLETED);
    expect((await h.finished(retrying.runId)).status).toBe(RunStatus.COMPLETED);

    // A SIGKILL loses what the victim's exporter still buffers: let the finished runs' spans
    // reach the collector first (the batch processor exports on its schedule).
    for (
      let i = 0;
      i < 200 && !collector.spans.some((s) => s.traceId === retrying.traceId && /^execute .*flaky/.test(s.name));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Kill the executor while the 2.5 s step of the third run executes; a new executor redoes it.
    const restarted = await startTraced("cancelable", 2500);
    for (let i = 0; i < 100 && !h.sideEffects().some((e) => e.runId === restarted.runId); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const victim = h.stack.executors.splice(0, 1)[0]!;
    victim.kill("SIGKILL");
    await victim.exited;
    h.stack.executors.push(await h.stack.add("executor"));
    expect((await h.finished(restarted.runId, 90_000)).status).toBe(RunStatus.COMPLETED);
    // The redone execution's span leaves the new executor on the batch processor's schedule: wait
    // for it (bounded) rather than race the stop below on a loaded machine.
    for (
      let i = 0;
      i < 300 &&
      !collector.spans.some(
        (s) => s.traceId === restarted.traceId && s.service === "weft-executor" && /^execute wait/.test(s.name),
      );
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    // Graceful stop: every service flushes its spans before it exits.
    await h.stack.stop();

    // The pipeline's trace.
    const spans = inTrace(pipeline.traceId);
    expect(new Set(spans.map((s) => s.service))).toEqual(
      new Set(["weft-journal", "weft-coordinator", "weft-executor"]),
    );
    const start = spans.find((s) => s.service === "weft-journal" && s.parentSpanId === pipeline.spanId);
    expect(start?.name).toMatch(/StartWorkflow/);
    const turns = named(spans, /^turn /)
      .filter((s) => s.service === "weft-coordinator")
      .sort((a, b) => a.startMs - b.startMs);
    const turnAttributes = new Set([
      "weft.run.steps",
      "weft.claim",
      "weft.claim.partial",
      "weft.turn.new_steps",
      "weft.turn.completes",
    ]);
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(Number(turns[0]?.attributes["weft.claim"])).toBe(1);
    for (const turn of turns) {
      expect(turn.parentSpanId).toBe(start?.spanId);
      // A turn's own figures, and the run's id on the generation's first claim only.
      const { "weft.run.id": runId, ...rest } = turn.attributes;
      expect(runId).toBe(Number(turn.attributes["weft.claim"]) === 1 ? pipeline.runId : undefined);
      expect(Object.keys(rest).filter((k) => !turnAttributes.has(k))).toEqual([]);
    }
    expect(turns.at(-1)?.attributes["weft.turn.completes"]).toBe("completed");
    const turnIds = new Set(turns.map((t) => t.spanId));
    const publishes = named(spans, /^publish /).filter((s) => s.service === "weft-journal");
    expect(publishes.map((p) => p.name).sort()).toEqual(
      ["logged.analyzeA", "logged.analyzeB", "logged.extract", "logged.summarize"].map((n) => `publish ${n}`),
    );
    for (const p of publishes) expect(turnIds.has(p.parentSpanId)).toBe(true);
    const publishIds = new Set(publishes.map((p) => p.spanId));
    const executions = named(spans, /^execute /).filter((s) => s.service === "weft-executor");
    expect(executions).toHaveLength(4);
    for (const e of executions) expect(publishIds.has(e.parentSpanId)).toBe(true);
    expect(named(spans, /^run completed/)).toHaveLength(1);

    // Batching keeps the picture: a RecordResultBatch span links to every execution it carried.
    const linked = new Set(
      named(collector.spans, /RecordResultBatch/)
        .filter((s) => s.service === "weft-journal")
        .flatMap((s) => s.links.map((l) => l.spanId)),
    );
    for (const e of executions) expect(linked.has(e.spanId)).toBe(true);

    // Retries are visible: the flaky step's execution holds its three attempts as events (each
    // failure, each retry with its backoff, each later attempt) and ends at attempt 3.
    const retrySpans = inTrace(retrying.traceId);
    const flaky = named(retrySpans, /^execute /).find((s) => s.name.includes("flaky"));
    expect(flaky).toBeDefined();
    expect(Number(flaky?.attributes["weft.step.attempt"])).toBe(3);
    const events = (name: string) =>
      flaky?.events.filter((e) => e.name === name).map((e) => Number(e.attributes["weft.step.attempt"]));
    expect(events("exception")).toEqual([1, 2]);
    expect(events("retry")).toEqual([1, 2]);
    expect(events("attempt")).toEqual([2, 3]);
    for (const retry of flaky?.events.filter((e) => e.name === "retry") ?? []) {
      expect(Number(retry.attributes["weft.retry.backoff_ms"])).toBeGreaterThan(0);
    }

    // The execution redone after the executor was killed still joins the run's trace.
    const afterRestart = inTrace(restarted.traceId);
    const redone = named(afterRestart, /^execute wait/).filter((s) => s.service === "weft-executor");
    expect(redone.length).toBeGreaterThanOrEqual(1);
    const restartPublishes = new Set(named(afterRestart, /^publish /).map((p) => p.spanId));
    for (const e of redone) expect(restartPublishes.has(e.parentSpanId)).toBe(true);
  });
});
