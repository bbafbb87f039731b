// The journal's configurable limits (docs/limits.md), each set low here: the call past it gets a
// Connect error naming the limit and its setting, and nothing is written.
import http2 from "node:http2";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, RunStatus, StepKind, TurnStatus, WorkflowService } from "@weft/contracts";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { claimRun, eventually, expectConnectError, type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal limits", {
    maxStepsPerRun: 3,
    maxEventsPerRun: 2,
    historyPageMax: 2,
    maxWatchesPerClient: 2,
    maxStreamsPerConnection: 5,
    maxRequestBytes: 4096,
  });
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "limited" }] });
});
afterAll(async () => {
  await h?.close();
});

async function start() {
  const { run } = await h.workflows.startWorkflow({ workflowName: "limited", args: encodePayload(null) });
  if (!run) throw new Error("no run");
  return run;
}

const queryStep = (seq: number) => ({ seq, name: `s${seq}`, kind: StepKind.QUERY, args: encodePayload(seq) });

async function rowCounts() {
  const [row] = await h.query<{ runs: string; steps: string; events: string }>(
    "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM steps) AS steps, (SELECT count(*) FROM events) AS events",
  );
  return row;
}

describe("steps per run (WEFT_MAX_STEPS_PER_RUN)", () => {
  test("a turn within the limit commits; one past it fails the run with LimitExceededError", async () => {
    const within = await start();
    const over = await start();
    const claimed = new Map<string, bigint>();
    await eventually(async () => {
      for (const c of (await h.internal.claimRuns({ owner: "coordinator-1", maxRuns: 100, leaseMs: 10_000 })).runs) {
        claimed.set(c.run?.id ?? "", c.leaseToken);
      }
      return claimed.has(within.id) && claimed.has(over.id);
    });
    const a = { leaseToken: claimed.get(within.id) ?? 0n };
    const b = { leaseToken: claimed.get(over.id) ?? 0n };
    const res = await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [
        { runId: within.id, leaseToken: a.leaseToken, generation: 1, newSteps: [1, 2, 3].map(queryStep) },
        { runId: over.id, leaseToken: b.leaseToken, generation: 1, newSteps: [1, 2, 3, 4].map(queryStep) },
      ],
    });
    expect(res.results.map((r) => r.status)).toEqual([TurnStatus.COMMITTED, TurnStatus.COMMITTED]);
    const ok = await h.workflows.getHistory({ runId: within.id });
    expect(ok.run?.status).toBe(RunStatus.RUNNING);
    expect(ok.steps).toHaveLength(2); // the history page is 2 (WEFT_HISTORY_PAGE_MAX)
    const failed = await h.workflows.getHistory({ runId: over.id });
    expect(failed.run?.status).toBe(RunStatus.FAILED);
    expect(failed.run?.error?.name).toBe("LimitExceededError");
    expect(failed.run?.error?.message).toBe(
      "the workflow called its step 4, over the limit of 3 steps per run (WEFT_MAX_STEPS_PER_RUN)",
    );
    expect(failed.steps).toEqual([]);
  });
});

describe("events per run (WEFT_MAX_EVENTS_PER_RUN)", () => {
  test("the event past the limit is refused with ResourceExhausted and not stored", async () => {
    const run = await start();
    await h.workflows.sendEvent({ runId: run.id, eventName: "e", payload: encodePayload(1) });
    await h.workflows.sendEvent({ runId: run.id, eventName: "e", payload: encodePayload(2) });
    const before = await rowCounts();
    await expectConnectError(
      h.workflows.sendEvent({ runId: run.id, eventName: "e", payload: encodePayload(3) }),
      Code.ResourceExhausted,
      `run_id: run ${run.id} already holds 2 events, the limit per run (WEFT_MAX_EVENTS_PER_RUN=2)`,
    );
    expect(await rowCounts()).toEqual(before);
  });
});

describe("history pages (WEFT_HISTORY_PAGE_MAX)", () => {
  test("pages of at most the maximum, followed by next_page_token to the end", async () => {
    const run = await start();
    const claimed = await claimRun(h, run.id);
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: [{ runId: run.id, leaseToken: claimed.leaseToken, generation: 1, newSteps: [1, 2, 3].map(queryStep) }],
    });
    await h.workflows.sendEvent({ runId: run.id, eventName: "x", payload: encodePayload("a") });
    const seqs: number[] = [];
    const events: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await h.workflows.getHistory({ runId: run.id, pageToken });
      expect(page.steps.length).toBeLessThanOrEqual(2);
      seqs.push(...page.steps.map((s) => s.seq));
      events.push(...page.events.map((e) => e.name));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seqs).toEqual([1, 2, 3]);
    expect(events).toEqual(["x"]);
    expect(pages).toBe(2);
    const one = await h.workflows.getHistory({ runId: run.id, pageSize: 1 });
    expect(one.steps.map((s) => s.seq)).toEqual([1]);

    await expectConnectError(
      h.workflows.getHistory({ runId: run.id, pageSize: 3 }),
      Code.InvalidArgument,
      "page_size: must be between 0 and 2 (WEFT_HISTORY_PAGE_MAX), got 3",
    );
    await expectConnectError(
      h.workflows.getHistory({ runId: run.id, pageSize: -1 }),
      Code.InvalidArgument,
      "page_size: must be between 0 and 2",
    );
    await expectConnectError(
      h.workflows.getHistory({ runId: run.id, pageToken: "garbage" }),
      Code.InvalidArgument,
      "page_token: is not a token this service issued",
    );
    const other = await start();
    const token = (await h.workflows.getHistory({ runId: run.id })).nextPageToken;
    await expectConnectError(
      h.workflows.getHistory({ runId: other.id, pageToken: token }),
      Code.InvalidArgument,
      `page_token: belongs to another run than ${other.id}`,
    );
  });
});

describe("page size (WEFT_PAGE_SIZE_MAX)", () => {
  test("ListWorkflows refuses a page over the maximum", async () => {
    await expectConnectError(
      h.workflows.listWorkflows({ pageSize: h.config.pageSizeMax + 1 }),
      Code.InvalidArgument,
      `page_size: must be between 0 and ${h.config.pageSizeMax}`,
    );
  });
});

describe("payload size (WEFT_MAX_PAYLOAD_BYTES)", () => {
  test("a payload over the limit is ResourceExhausted naming the field and the setting", async () => {
    const before = await rowCounts();
    await expectConnectError(
      h.workflows.startWorkflow({ workflowName: "limited", args: encodePayload("x".repeat(2000)) }),
      Code.ResourceExhausted,
      "args: payload of 2002 bytes exceeds the limit of 1024 bytes (WEFT_MAX_PAYLOAD_BYTES)",
    );
    expect(await rowCounts()).toEqual(before);
  });
});

describe("request size (WEFT_MAX_REQUEST_BYTES)", () => {
  test("a request message over the limit is ResourceExhausted before it is decoded", async () => {
    const before = await rowCounts();
    for (const transport of [
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${h.journal.port}` }),
      createConnectTransport({ baseUrl: `http://127.0.0.1:${h.journal.port}`, httpVersion: "1.1" }),
    ]) {
      const client = createClient(WorkflowService, transport);
      await expectConnectError(
        client.startWorkflow({ workflowName: "limited", idempotencyKey: "k".repeat(5000) }),
        Code.ResourceExhausted,
        "readMaxBytes 4096",
      );
    }
    expect(await rowCounts()).toEqual(before);
  });
});

describe("watches per client (WEFT_MAX_WATCHES_PER_CLIENT)", () => {
  test("a client's watch past the limit is ResourceExhausted; closing one makes room", async () => {
    const run = await start();
    const opened: AbortController[] = [];
    const openWatch = async () => {
      const abort = new AbortController();
      const stream = h.workflows.watchWorkflow({ runId: run.id }, { signal: abort.signal });
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      opened.push(abort);
      return { first, iterator, abort };
    };
    try {
      const a = await openWatch();
      expect(a.first.value?.run?.id).toBe(run.id);
      await openWatch();
      let caught: unknown;
      try {
        await openWatch();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConnectError);
      expect((caught as ConnectError).code).toBe(Code.ResourceExhausted);
      expect((caught as ConnectError).rawMessage).toMatch(
        /^WatchWorkflow: client \S+ already has 2 open watches, the limit per client \(WEFT_MAX_WATCHES_PER_CLIENT=2\)$/,
      );
      a.abort.abort();
      // The server notices the cancel and counts the watch out.
      await eventually(async () => {
        try {
          return (await openWatch()).first.done === false;
        } catch {
          return false;
        }
      });
    } finally {
      for (const abort of opened) abort.abort();
    }
  });
});

describe("streams per connection (WEFT_MAX_STREAMS_PER_CONNECTION)", () => {
  test("the server announces SETTINGS_MAX_CONCURRENT_STREAMS to HTTP/2 clients", async () => {
    const session = http2.connect(`http://127.0.0.1:${h.journal.port}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once("remoteSettings", resolve);
        session.once("error", reject);
      });
      expect(settings.maxConcurrentStreams).toBe(5);
    } finally {
      session.close();
    }
  });
});

describe("idempotency keys across workflows", () => {
  test("a key already used by another workflow's run is AlreadyExists, and nothing is written", async () => {
    await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "limited" }, { name: "other" }] });
    const { run } = await h.workflows.startWorkflow({ workflowName: "limited", idempotencyKey: "shared-key" });
    const before = await rowCounts();
    await expectConnectError(
      h.workflows.startWorkflow({ workflowName: "other", idempotencyKey: "shared-key" }),
      Code.AlreadyExists,
      `idempotency_key: "shared-key" belongs to run ${run?.id} of workflow "limited", not "other"`,
    );
    expect(await rowCounts()).toEqual(before);
  });
});
