// The public WorkflowService: start (and idempotent start), reads, list paging and filters, watch,
// and edge validation of every RPC (with proof that rejected calls wrote nothing).
import { Code, type ConnectError } from "@connectrpc/connect";
import { decodePayload, encodePayload, RunStatus, TurnStatus, toTimestamp } from "@weft/contracts";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { claimRun, expectConnectError, type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal public api");
  await h.internal.registerWorker({
    workerId: "worker-1",
    workflows: [{ name: "pipeline" }, { name: "listed" }, { name: "other" }],
  });
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  await h.query("UPDATE runs SET status = 'canceled' WHERE status = 'running'");
});

const count = async (table: string) =>
  Number((await h.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n);

describe("StartWorkflow", () => {
  test("inserts a ready running run and wakes coordinators", async () => {
    const wake = h.nc.subscribe(`${h.env.prefix}.wake`, { max: 1 });
    const res = await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload({ input: "x" }) });
    expect(res.existing).toBe(false);
    expect(res.run?.status).toBe(RunStatus.RUNNING);
    expect(res.run?.generation).toBe(1);
    expect(decodePayload(res.run?.args ?? new Uint8Array())).toEqual({ input: "x" });
    const [row] = await h.query("SELECT ready, status FROM runs WHERE id = $1", [res.run?.id]);
    expect(row).toEqual({ ready: true, status: "running" });
    for await (const _ of wake) break;
  });

  test("an idempotency key returns the existing run", async () => {
    const first = await h.workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "order-42" });
    const second = await h.workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "order-42" });
    expect(second.existing).toBe(true);
    expect(second.run?.id).toBe(first.run?.id);
    expect((await h.query("SELECT id FROM runs WHERE idempotency_key = 'order-42'")).length).toBe(1);
  });

  test("concurrent starts share INSERTs; a taken key or an unknown workflow affects only its own start", async () => {
    const batches = async () =>
      (await h.journal.metrics.batchSize.StartWorkflow.get()).values.find(
        (v) => v.metricName === "weft_journal_start_batch_size_count",
      )?.value ?? 0;
    const before = await batches();
    const calls = [
      ...Array.from({ length: 200 }, (_, i) =>
        h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(i) }),
      ),
      ...Array.from({ length: 5 }, () =>
        h.workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "burst-1" }),
      ),
      h.workflows.startWorkflow({ workflowName: "unknown" }),
    ];
    const outcomes = await Promise.allSettled(calls);
    const ok = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
    expect(ok).toHaveLength(205);
    expect(new Set(ok.map((r) => r.run?.id)).size).toBe(201);
    const keyed = ok.filter((r) => r.run?.idempotencyKey === "burst-1");
    expect(new Set(keyed.map((r) => r.run?.id)).size).toBe(1);
    expect(keyed.filter((r) => !r.existing)).toHaveLength(1);
    const failed = outcomes.at(-1);
    expect(failed?.status === "rejected" && (failed.reason as ConnectError).code).toBe(Code.NotFound);
    expect(await batches()).toBeLessThan(before + 100);
  });

  test("validation errors write nothing", async () => {
    const before = await count("runs");
    const start = (req: Parameters<Harness["workflows"]["startWorkflow"]>[0]) => h.workflows.startWorkflow(req);
    await expectConnectError(
      start({ workflowName: "nope" }),
      Code.NotFound,
      'workflow_name: no worker has registered workflow "nope"',
    );
    await expectConnectError(start({ workflowName: "" }), Code.InvalidArgument, "workflow_name");
    await expectConnectError(
      start({ workflowName: "pipeline", args: new TextEncoder().encode("{bad") }),
      Code.InvalidArgument,
      "args: is not valid JSON",
    );
    await expectConnectError(
      start({ workflowName: "pipeline", args: new Uint8Array([0x22, 0xff, 0xfe, 0x22]) }),
      Code.InvalidArgument,
      "args: is not valid UTF-8",
    );
    await expectConnectError(
      start({ workflowName: "pipeline", args: encodePayload("x".repeat(2000)) }),
      Code.ResourceExhausted,
      "args: payload of 2002 bytes exceeds the limit of 1024 bytes",
    );
    expect(await count("runs")).toBe(before);
  });
});

describe("StartWorkflows", () => {
  test("starts every run in request order, in shared INSERTs, with idempotent twins", async () => {
    await h.workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "batch-old" });
    const starts = [
      ...Array.from({ length: 300 }, (_, i) => ({ workflowName: "pipeline", args: encodePayload({ i }) })),
      { workflowName: "other", idempotencyKey: "batch-new" },
      { workflowName: "other", idempotencyKey: "batch-new" },
      { workflowName: "pipeline", idempotencyKey: "batch-old" },
    ];
    const res = await h.workflows.startWorkflows({ starts });
    expect(res.results).toHaveLength(303);
    for (let i = 0; i < 300; i++) expect(decodePayload(res.results[i]?.run?.args ?? new Uint8Array())).toEqual({ i });
    expect(res.results.slice(0, 300).every((r) => !r.existing && r.run?.workflowName === "pipeline")).toBe(true);
    const [a, b, old] = res.results.slice(300);
    expect(a?.run?.id).toBe(b?.run?.id);
    expect([a?.existing, b?.existing].sort()).toEqual([false, true]);
    expect(old?.existing).toBe(true);
    const ids = res.results.map((r) => r.run?.id);
    const rows = await h.query<{ n: string }>("SELECT count(*) AS n FROM runs WHERE id = ANY($1::uuid[])", [ids]);
    expect(Number(rows[0]?.n)).toBe(302);
    expect((await h.workflows.startWorkflows({ starts: [] })).results).toEqual([]);
  });

  test("one bad start fails the call, names its field and starts nothing", async () => {
    await h.workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "batch-taken" });
    const before = await count("runs");
    const ok = { workflowName: "pipeline" };
    const call = (bad: Record<string, unknown>) => h.workflows.startWorkflows({ starts: [ok, ok, bad, ok] });
    await expectConnectError(
      call({ workflowName: "nope" }),
      Code.NotFound,
      'starts[2].workflow_name: no worker has registered workflow "nope"',
    );
    await expectConnectError(
      call({ workflowName: "pipeline", args: new TextEncoder().encode("{bad") }),
      Code.InvalidArgument,
      "starts[2].args: is not valid JSON",
    );
    await expectConnectError(
      call({ workflowName: "pipeline", appVersion: "v9" }),
      Code.NotFound,
      'starts[2].app_version: no coordinator has registered version "v9"',
    );
    await expectConnectError(
      call({ workflowName: "other", idempotencyKey: "batch-taken" }),
      Code.AlreadyExists,
      'starts[2].idempotency_key: "batch-taken" belongs to run',
    );
    await expectConnectError(
      h.workflows.startWorkflows({
        starts: [
          { workflowName: "pipeline", idempotencyKey: "k" },
          { workflowName: "other", idempotencyKey: "k" },
        ],
      }),
      Code.InvalidArgument,
      'starts[1].idempotency_key: "k" is starts[0]\'s key, for workflow "pipeline"',
    );
    await expectConnectError(
      h.workflows.startWorkflows({ starts: Array.from({ length: 1001 }, () => ok) }),
      Code.InvalidArgument,
      "starts: has 1001 entries, more than the maximum of 1000",
    );
    expect(await count("runs")).toBe(before);
  });
});

describe("reads", () => {
  test("GetWorkflow and GetHistory validate the run id", async () => {
    for (const call of [
      (runId: string) => h.workflows.getWorkflow({ runId }),
      (runId: string) => h.workflows.getHistory({ runId }),
      (runId: string) => h.workflows.cancelWorkflow({ runId }),
    ]) {
      await expectConnectError(call("not-a-uuid"), Code.InvalidArgument, 'run_id: "not-a-uuid" is not a UUID');
      await expectConnectError(call(""), Code.InvalidArgument, "run_id: is required");
      await expectConnectError(
        call("0190f5a4-0000-7000-8000-000000000000"),
        Code.NotFound,
        "run_id: run 0190f5a4-0000-7000-8000-000000000000 does not exist",
      );
    }
  });

  test("GetHistory returns the run, its steps and events", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    await h.workflows.sendEvent({ runId, eventName: "go", payload: encodePayload(1) });
    const claimed = await claimRun(h, runId);
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId,
          leaseToken: claimed.leaseToken,
          generation: 1,
          newSteps: [{ seq: 1, name: "extract", kind: 3, args: encodePayload({ a: 1 }) }],
        },
      ],
    });
    const history = await h.workflows.getHistory({ runId });
    expect(history.run?.id).toBe(runId);
    expect(history.steps.map((s) => s.name)).toEqual(["extract"]);
    expect(history.events.map((e) => e.name)).toEqual(["go"]);
  });
});

describe("SendEvent validation", () => {
  test("rejects bad input and writes nothing", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    const before = await count("events");
    await expectConnectError(h.workflows.sendEvent({ runId: "x", eventName: "e" }), Code.InvalidArgument, "run_id");
    await expectConnectError(
      h.workflows.sendEvent({ runId, eventName: "" }),
      Code.InvalidArgument,
      "event_name: is required",
    );
    await expectConnectError(
      h.workflows.sendEvent({ runId, eventName: "e", payload: new TextEncoder().encode("nope") }),
      Code.InvalidArgument,
      "payload: is not valid JSON",
    );
    await expectConnectError(
      h.workflows.sendEvent({ runId, eventName: "e", payload: new Uint8Array([0xc3, 0x28]) }),
      Code.InvalidArgument,
      "payload: is not valid UTF-8",
    );
    await expectConnectError(
      h.workflows.sendEvent({ runId, eventName: "e", payload: encodePayload("y".repeat(5000)) }),
      Code.ResourceExhausted,
      "payload: payload of 5002 bytes exceeds the limit of 1024 bytes",
    );
    await expectConnectError(
      h.workflows.sendEvent({ runId: "0190f5a4-0000-7000-8000-000000000000", eventName: "e" }),
      Code.NotFound,
      "run_id",
    );
    expect(await count("events")).toBe(before);
  });
});

describe("ListWorkflows", () => {
  test("pages newest first and filters", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { run } = await h.workflows.startWorkflow({ workflowName: "listed", args: encodePayload(i) });
      ids.push(run?.id ?? "");
    }
    await h.workflows.startWorkflow({ workflowName: "other" });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await h.workflows.listWorkflows({ workflowName: "listed", pageSize: 2, pageToken });
      expect(page.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.runs.map((r) => r.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);

    await h.workflows.cancelWorkflow({ runId: ids[0] ?? "", reason: "test" });
    const canceled = await h.workflows.listWorkflows({ workflowName: "listed", statuses: [RunStatus.CANCELED] });
    expect(canceled.runs.map((r) => r.id)).toEqual([ids[0]]);
    const running = await h.workflows.listWorkflows({ workflowName: "listed", statuses: [RunStatus.RUNNING] });
    expect(running.runs.length).toBe(4);
    const later = await h.workflows.listWorkflows({
      workflowName: "listed",
      createdAfter: toTimestamp(new Date(Date.now() + 60_000)),
    });
    expect(later.runs).toEqual([]);
  });

  test("rejects bad page sizes, tokens and filters", async () => {
    await expectConnectError(
      h.workflows.listWorkflows({ pageSize: -1 }),
      Code.InvalidArgument,
      "page_size: must be between 0 and 50, got -1",
    );
    await expectConnectError(h.workflows.listWorkflows({ pageSize: 51 }), Code.InvalidArgument, "page_size");
    await expectConnectError(h.workflows.listWorkflows({ pageToken: "garbage!" }), Code.InvalidArgument, "page_token");
    await expectConnectError(
      h.workflows.listWorkflows({ pageToken: Buffer.from('["2020-01-01", "x"]').toString("base64url") }),
      Code.InvalidArgument,
      "page_token",
    );
    await expectConnectError(h.workflows.listWorkflows({ parentRunId: "nope" }), Code.InvalidArgument, "parent_run_id");
    await expectConnectError(
      h.workflows.listWorkflows({ statuses: [RunStatus.UNSPECIFIED] }),
      Code.InvalidArgument,
      "statuses[0]",
    );
  });
});

describe("WatchWorkflow", () => {
  test("streams changes until the run ends", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    const statuses: RunStatus[] = [];
    const stepCounts: number[] = [];
    const watching = (async () => {
      for await (const msg of h.workflows.watchWorkflow({ runId, includeSteps: true })) {
        statuses.push(msg.run?.status ?? RunStatus.UNSPECIFIED);
        stepCounts.push(msg.steps.length);
      }
    })();
    const claimed = await claimRun(h, runId);
    const first = await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        { runId, leaseToken: claimed.leaseToken, generation: 1, newSteps: [{ seq: 1, name: "extract", kind: 3 }] },
      ],
    });
    expect(first.results[0]?.status).toBe(TurnStatus.COMMITTED);
    const again = await h.internal.claimRuns({ owner: "coordinator-2", maxRuns: 10, leaseMs: 1000 });
    expect(again.runs).toEqual([]); // not ready: the step is running
    const stepId = (await h.query<{ id: string }>("SELECT id FROM steps WHERE run_id = $1", [runId]))[0]?.id ?? "";
    await h.internal.recordResultBatch({
      executorId: "e1",
      results: [{ stepId, runId, generation: 1, attempt: 1, outcome: { case: "result", value: encodePayload(7) } }],
    });
    const claimed2 = await claimRun(h, runId);
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        {
          runId,
          leaseToken: claimed2.leaseToken,
          generation: 1,
          completion: { outcome: { case: "result", value: encodePayload("done") } },
        },
      ],
    });
    await watching;
    expect(statuses.at(-1)).toBe(RunStatus.COMPLETED);
    expect(statuses.slice(0, -1).every((s) => s === RunStatus.RUNNING)).toBe(true);
    expect(Math.max(...stepCounts)).toBe(1);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
  }, 20_000);

  test("rejects a malformed or unknown run id", async () => {
    const drain = async (runId: string) => {
      for await (const _ of h.workflows.watchWorkflow({ runId })) {
        // nothing
      }
    };
    await expectConnectError(drain("bad"), Code.InvalidArgument, "run_id");
    await expectConnectError(drain("0190f5a4-0000-7000-8000-000000000000"), Code.NotFound, "run_id");
  });
});
