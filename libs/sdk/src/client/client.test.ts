import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import {
  decodePayload,
  EventSchema,
  encodePayload,
  RunSchema,
  RunStatus,
  StepKind,
  StepSchema,
  StepStatus,
  toTimestamp,
  WorkflowService,
} from "@weft/contracts";
import { describe, expect, it } from "vitest";
import { CanceledError, WorkflowFailedError } from "../errors.ts";
import { defineWorkflow } from "../workflow-definition.ts";
import { createWeftClient } from "./client.ts";
import { decodeEvent, decodeRun, decodeStep } from "./decode.ts";

const created = new Date("2026-01-02T03:04:05.678Z");

function protoRun(status: RunStatus, extra: Omit<MessageInitShape<typeof RunSchema>, "$typeName"> = {}) {
  return create(RunSchema, {
    id: "run-1",
    workflowName: "pipeline",
    status,
    args: encodePayload({ doc: "x" }),
    createdAt: toTimestamp(created),
    generation: 1,
    shard: 3,
    ...extra,
  });
}

describe("decoding", () => {
  it("turns a Run into a plain object", () => {
    const run = decodeRun(
      protoRun(RunStatus.COMPLETED, {
        result: encodePayload({ summary: "ok" }),
        completedAt: toTimestamp(created.getTime() + 1500),
        appVersion: "1.0",
      }),
    );
    expect(run).toEqual({
      id: "run-1",
      workflowName: "pipeline",
      status: "completed",
      args: { doc: "x" },
      result: { summary: "ok" },
      error: undefined,
      idempotencyKey: undefined,
      parentRunId: undefined,
      generation: 1,
      shard: 3,
      createdAt: created,
      updatedAt: undefined,
      completedAt: new Date(created.getTime() + 1500),
      traceparent: undefined,
      appVersion: "1.0",
    });
  });

  it("decodes failures with JSON details, steps and events", () => {
    const failed = decodeRun(
      protoRun(RunStatus.FAILED, {
        error: { name: "RateLimitError", message: "slow", stack: "", details: encodePayload({ retryAfterMs: 5 }) },
      }),
    );
    expect(failed.status).toBe("failed");
    expect(failed.result).toBeNull();
    expect(failed.error).toEqual({ name: "RateLimitError", message: "slow", details: { retryAfterMs: 5 } });

    const step = decodeStep(
      create(StepSchema, {
        id: "s1",
        runId: "run-1",
        seq: 2,
        name: "approve",
        kind: StepKind.EVENT,
        status: StepStatus.COMPLETED,
        result: encodePayload({ ok: true }),
        completionOrder: 42n,
        eventName: "approve",
        timeoutAt: toTimestamp(created),
      }),
    );
    expect(step).toMatchObject({
      kind: "event",
      status: "completed",
      args: null,
      result: { ok: true },
      completionOrder: 42n,
      eventName: "approve",
      childRunId: undefined,
      timeoutAt: created,
    });
    const event = decodeEvent(
      create(EventSchema, { id: "e1", runId: "run-1", name: "approve", payload: encodePayload(7) }),
    );
    expect(event).toEqual({
      id: "e1",
      runId: "run-1",
      name: "approve",
      payload: 7,
      createdAt: undefined,
      consumedBySeq: undefined,
    });
  });
});

function clientWith(impl: Partial<ServiceImpl<typeof WorkflowService>>) {
  const transport = createRouterTransport(({ service }) => service(WorkflowService, impl));
  return createWeftClient({
    baseUrl: "http://unused",
    transport,
    headers: { authorization: "Bearer t" },
    reconnect: { initialBackoffMs: 1, maxBackoffMs: 2 },
  });
}

describe("client", () => {
  it("starts a workflow by definition with JSON args, key and headers", async () => {
    const seen: unknown[] = [];
    const client = clientWith({
      startWorkflow(req, ctx) {
        seen.push({
          name: req.workflowName,
          args: decodePayload(req.args),
          key: req.idempotencyKey,
          auth: ctx.requestHeader.get("authorization"),
        });
        return { run: protoRun(RunStatus.RUNNING), existing: true };
      },
    });
    const wf = defineWorkflow({ name: "pipeline", handler: async (_ctx, a: { doc: string }) => a.doc });
    const res = await client.start(wf, { doc: "x" }, { idempotencyKey: "k1" });
    expect(res.runId).toBe("run-1");
    expect(res.existing).toBe(true);
    expect(res.run.status).toBe("running");
    expect(seen).toEqual([{ name: "pipeline", args: { doc: "x" }, key: "k1", auth: "Bearer t" }]);
  });

  it("startMany() sends StartWorkflows calls of at most 1,000 starts and keeps the order", async () => {
    const sizes: number[] = [];
    const client = clientWith({
      async startWorkflows(req) {
        sizes.push(req.starts.length);
        return {
          results: req.starts.map((s) => ({
            run: protoRun(RunStatus.RUNNING, {
              id: `run-${decodePayload(s.args) as number}`,
              workflowName: s.workflowName,
            }),
            existing: s.idempotencyKey === "seen",
          })),
        };
      },
    });
    const wf = defineWorkflow({ name: "pipeline", handler: async (_ctx, n: number) => n });
    const items = Array.from({ length: 2500 }, (_, i) => ({ workflow: wf, args: i }));
    items[1] = { workflow: wf, args: 1, idempotencyKey: "seen" } as (typeof items)[number];
    const res = await client.startMany(items);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(res.map((r) => r.runId)).toEqual(items.map((_, i) => `run-${i}`));
    expect(res[1]?.existing).toBe(true);
    expect(res[0]?.run.workflowName).toBe("pipeline");
    expect(await client.startMany([])).toEqual([]);
  });

  it("result() reconnects when the watch stream breaks and resolves the decoded result", async () => {
    let connections = 0;
    const client = clientWith({
      async *watchWorkflow(req) {
        // Only the final state: the journal reads the run when it ends, not per change.
        expect(req.finalOnly).toBe(true);
        connections++;
        if (connections === 1) {
          yield { run: protoRun(RunStatus.RUNNING) };
          throw new ConnectError("connection reset", Code.Unavailable);
        }
        if (connections === 2) return; // stream closed before the run ended
        yield { run: protoRun(RunStatus.RUNNING) };
        yield { run: protoRun(RunStatus.COMPLETED, { result: encodePayload({ summary: "done" }) }) };
      },
    });
    await expect(client.result("run-1")).resolves.toEqual({ summary: "done" });
    expect(connections).toBe(3);
  });

  it("result() rejects with WorkflowFailedError or CanceledError", async () => {
    let status = RunStatus.FAILED;
    const client = clientWith({
      async *watchWorkflow() {
        yield { run: protoRun(status, { error: { name: "StepFailedError", message: "boom" } }) };
      },
    });
    const failed = await client.result("run-1").catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect((failed as WorkflowFailedError).failure).toEqual({ name: "StepFailedError", message: "boom" });
    status = RunStatus.CANCELED;
    await expect(client.result("run-1")).rejects.toBeInstanceOf(CanceledError);
  });

  it("result() gives up at once on NotFound and honours its signal", async () => {
    const notFound = clientWith({
      // biome-ignore lint/correctness/useYield: fails before the first message.
      async *watchWorkflow(req) {
        throw new ConnectError(`run ${req.runId} not found`, Code.NotFound);
      },
    });
    await expect(notFound.result("nope")).rejects.toMatchObject({ code: Code.NotFound });

    const endless = clientWith({
      async *watchWorkflow() {
        yield { run: protoRun(RunStatus.RUNNING) };
      },
    });
    const controller = new AbortController();
    const pending = endless.result("run-1", { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("gave up")), 20);
    await expect(pending).rejects.toThrow("gave up");
  });

  it("watch() yields decoded snapshots with steps until the run ends", async () => {
    const client = clientWith({
      async *watchWorkflow(req) {
        expect(req.includeSteps).toBe(true);
        expect(req.finalOnly).toBe(false);
        yield {
          run: protoRun(RunStatus.RUNNING),
          steps: [create(StepSchema, { seq: 1, name: "extract", kind: StepKind.ACTION })],
        };
        yield { run: protoRun(RunStatus.COMPLETED, { result: encodePayload(1) }) };
        yield { run: protoRun(RunStatus.COMPLETED) }; // read to the end, not yielded: the run had ended
      },
    });
    const seen = [];
    for await (const run of client.watch("run-1", { includeSteps: true })) seen.push(run);
    expect(seen.map((r) => r.status)).toEqual(["running", "completed"]);
    expect(seen[0]!.steps!.map((s) => `${s.kind}:${s.name}`)).toEqual(["action:extract"]);
  });

  it("watch() reads the stream to its end after the final status instead of resetting it", async () => {
    // A reset per finished watch trips HTTP/2 servers' stream-reset limit (GOAWAY for the whole
    // connection), so the stream must end the server's way even when the caller stops reading.
    const ends: string[] = [];
    const client = clientWith({
      async *watchWorkflow() {
        try {
          yield { run: protoRun(RunStatus.RUNNING) };
          yield { run: protoRun(RunStatus.COMPLETED, { result: encodePayload(1) }) };
          ends.push("ended");
        } finally {
          if (ends.length === 0) ends.push("cancelled");
        }
      },
    });
    for await (const run of client.watch("run-1")) if (run.status === "completed") break;
    expect(ends).toEqual(["ended"]);
    await expect(client.result("run-1")).resolves.toBe(1);
    expect(ends).toEqual(["ended", "ended"]);
  });

  it("watch() cancels a stream that stays open after the final status", async () => {
    let cancelled = false;
    const client = clientWith({
      async *watchWorkflow(_req, ctx) {
        yield { run: protoRun(RunStatus.COMPLETED, { result: encodePayload(2) }) };
        // A server that never ends the stream: only the client's cancel ends the call.
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        cancelled = true;
      },
    });
    await expect(client.result("run-1")).resolves.toBe(2);
    expect(cancelled).toBe(true);
  });

  it("list(), listAll(), cancel(), sendEvent() and history() map requests and responses", async () => {
    const pages: Record<string, { ids: string[]; next: string }> = {
      "": { ids: ["a", "b"], next: "p2" },
      p2: { ids: ["c"], next: "" },
    };
    const client = clientWith({
      listWorkflows(req) {
        expect(req.statuses).toEqual([RunStatus.RUNNING, RunStatus.FAILED]);
        expect(req.workflowName).toBe("pipeline");
        const page = pages[req.pageToken]!;
        return { runs: page.ids.map((id) => protoRun(RunStatus.RUNNING, { id })), nextPageToken: page.next };
      },
      cancelWorkflow(req) {
        return {
          run: protoRun(RunStatus.CANCELED, { id: req.runId, error: { name: "CanceledError", message: req.reason } }),
        };
      },
      sendEvent(req) {
        return {
          eventId: `${req.runId}/${req.eventName}/${JSON.stringify(decodePayload(req.payload))}`,
          delivered: true,
        };
      },
      getHistory(req) {
        return {
          run: protoRun(RunStatus.RUNNING, { id: req.runId }),
          steps: [create(StepSchema, { seq: 1, name: "extract", kind: StepKind.ACTION, status: StepStatus.RUNNING })],
          events: [create(EventSchema, { id: "e", name: "go", payload: encodePayload({ a: 1 }), consumedBySeq: 2 })],
        };
      },
    });
    const filter = { workflowName: "pipeline", statuses: ["running", "failed"] as const };
    const first = await client.list({ ...filter, statuses: [...filter.statuses] });
    expect(first.runs.map((r) => r.id)).toEqual(["a", "b"]);
    expect(first.nextPageToken).toBe("p2");
    const all = [];
    for await (const run of client.listAll({ ...filter, statuses: [...filter.statuses] })) all.push(run.id);
    expect(all).toEqual(["a", "b", "c"]);
    const canceled = await client.cancel("r9", "user asked");
    expect(canceled).toMatchObject({
      id: "r9",
      status: "canceled",
      error: { name: "CanceledError", message: "user asked" },
    });
    expect(await client.sendEvent("r9", "go", { a: 1 })).toEqual({ eventId: 'r9/go/{"a":1}', delivered: true });
    const history = await client.history("r9");
    expect(history.run.id).toBe("r9");
    expect(history.steps[0]).toMatchObject({ seq: 1, kind: "action", status: "running" });
    expect(history.events[0]).toMatchObject({ name: "go", payload: { a: 1 }, consumedBySeq: 2 });
  });
});
