// How claims reach coordinators: incremental (partial) claims with the full journal on request,
// runs continued in the CommitTurns answer, and claims pushed down a StreamClaims stream within
// the credits the coordinator granted.
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  type ClaimedRun,
  encodePayload,
  ResultStatus,
  StepKind,
  type StreamClaimsRequest,
  type StreamClaimsResponse,
  TurnStatus,
} from "@weft/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { type Harness, startHarness, takeAllTasks } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  // Fair claim order here; the eager default has its own harness below.
  h = await startHarness("journal claims", { claimOrder: "fair" });
  await h.internal.registerWorker({ workerId: "w", workflows: [{ name: "wf" }] });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await h.query("UPDATE runs SET status = 'canceled' WHERE status = 'running'");
  for (let shard = 0; shard < h.config.shards; shard++) await h.takeTasks(shard);
});

const start = async () =>
  (await h.workflows.startWorkflow({ workflowName: "wf", args: encodePayload(1) })).run?.id ?? "";

const claimOne = async (owner = "c") => {
  const res = await h.internal.claimRuns({ owner, maxRuns: 10, leaseMs: 10_000 });
  expect(res.runs).toHaveLength(1);
  return res.runs[0] as ClaimedRun;
};

const step = (seq: number, name: string) => ({ seq, name, kind: StepKind.ACTION });

async function commit(claim: ClaimedRun, newSteps: ReturnType<typeof step>[], continueReady = false, owner = "c") {
  return h.internal.commitTurns({
    owner,
    continueReady,
    leaseMs: 10_000,
    turns: [{ runId: claim.run?.id ?? "", leaseToken: claim.leaseToken, generation: 1, newSteps }],
  });
}

async function record(n: number) {
  const tasks = await takeAllTasks(h, n);
  expect(tasks).toHaveLength(n);
  return recordTasks(tasks);
}

async function recordTasks(tasks: Awaited<ReturnType<typeof takeAllTasks>>) {
  const res = await h.internal.recordResultBatch({
    executorId: "e",
    results: tasks.map((t) => ({
      stepId: t.task.stepId,
      runId: t.task.runId,
      generation: 1,
      attempt: 1,
      outcome: { case: "result", value: encodePayload(t.task.seq) },
    })),
  });
  expect(res.acks.every((a) => a.status === ResultStatus.RECORDED)).toBe(true);
  return tasks;
}

describe("incremental claims", () => {
  it("carry the whole journal on the first claim, then only the outcomes not yet delivered", async () => {
    const id = await start();
    const first = await claimOne();
    expect(first).toMatchObject({ claim: 1, partial: false, steps: [] });
    // What replay and the turn's span read: the args on the first claim only.
    expect(first.run).toMatchObject({ id, workflowName: "wf", generation: 1, namespace: "default" });
    expect(first.run?.args).toEqual(encodePayload(1));
    expect(first.run?.createdAt?.seconds).toBeGreaterThan(0n);
    await commit(first, [step(1, "a"), step(2, "b")]);
    await record(2);

    const second = await claimOne();
    expect(second).toMatchObject({ claim: 2, partial: true });
    expect(second.run).toMatchObject({ id, workflowName: "wf", generation: 1 });
    expect(second.run?.args).toHaveLength(0);
    expect(second.steps.map((s) => s.seq)).toEqual([1, 2]);
    await commit(second, [step(3, "c")]);
    await record(1);

    const third = await claimOne();
    expect(third).toMatchObject({ claim: 3, partial: true });
    // Only step 3's outcome: steps 1 and 2 went with the second claim.
    expect(third.steps.map((s) => s.seq)).toEqual([3]);

    // A coordinator without the live execution reads the whole journal.
    const full = await h.internal.readJournals({ runIds: [id] });
    expect(full.runs).toHaveLength(1);
    expect(full.runs[0]).toMatchObject({ partial: false, claim: 3 });
    expect(full.runs[0]?.steps.map((s) => s.seq)).toEqual([1, 2, 3]);
  });

  it("a claim that never reached its coordinator breaks the numbering instead of losing outcomes", async () => {
    await start();
    const first = await claimOne();
    await commit(first, [step(1, "a")]);
    await record(1);
    // Claim 2 is taken (and its lease lost, as if the answer never arrived).
    const lost = await claimOne();
    expect(lost.steps.map((s) => s.seq)).toEqual([1]);
    await h.query("UPDATE runs SET lease_expires = now() - interval '1 second' WHERE id = $1", [lost.run?.id]);
    const next = await claimOne();
    // Claim 3 cannot continue claim 1: a coordinator holding claim 1 must read the full journal.
    expect(next).toMatchObject({ claim: 3, partial: true, steps: [] });
    const full = await h.internal.readJournals({ runIds: [next.run?.id ?? ""] });
    expect(full.runs[0]?.steps.map((s) => s.seq)).toEqual([1]);
  });

  it("ReadJournals validates its ids and leaves out runs that ended", async () => {
    const id = await start();
    await expect(h.internal.readJournals({ runIds: ["nope"] })).rejects.toThrow(/run_ids\[0\]/);
    await h.query("UPDATE runs SET status = 'canceled' WHERE id = $1", [id]);
    expect((await h.internal.readJournals({ runIds: [id] })).runs).toEqual([]);
  });
});

describe("continued runs", () => {
  it("a run made ready during its turn comes back leased in the CommitTurns answer", async () => {
    await start();
    const first = await claimOne();
    await commit(first, [step(1, "a"), step(2, "b")]);
    const tasks = await takeAllTasks(h, 2);
    await recordTasks(tasks.slice(0, 1));
    const second = await claimOne(); // step 1's outcome; the turn waits for step 2
    expect(second.steps.map((s) => s.seq)).toEqual([1]);
    // Step 2's result arrives while the turn runs.
    await recordTasks(tasks.slice(1));
    const committed = await commit(second, [], true);
    expect(committed.results[0]).toMatchObject({ status: TurnStatus.COMMITTED, ready: false });
    expect(committed.claimed).toHaveLength(1);
    const continued = committed.claimed[0] as ClaimedRun;
    expect(continued).toMatchObject({ claim: 3, partial: true });
    expect(continued.steps.map((s) => s.seq)).toEqual([2]);
    expect(continued.leaseToken).toBeGreaterThan(second.leaseToken);
    // It is leased: nobody else can claim it, and its lease token commits the next turn.
    expect((await h.internal.claimRuns({ owner: "other", maxRuns: 10, leaseMs: 10_000 })).runs).toEqual([]);
    const done = await commit(continued, [step(3, "c")], true);
    expect(done.results[0]?.status).toBe(TurnStatus.COMMITTED);
    expect(done.claimed).toEqual([]);
  });

  it("without continue_ready the run is released and reported ready", async () => {
    await start();
    const first = await claimOne();
    await commit(first, [step(1, "a"), step(2, "b")]);
    const tasks = await takeAllTasks(h, 2);
    await recordTasks(tasks.slice(0, 1));
    const second = await claimOne();
    await recordTasks(tasks.slice(1));
    const committed = await commit(second, []);
    expect(committed.results[0]?.ready).toBe(true);
    expect(committed.claimed).toEqual([]);
    expect((await claimOne()).claim).toBe(3);
  });
});

/** A coordinator's claim stream: grant credits, read what is pushed. */
function openStream(owner: string, credits: number) {
  const requests = createWritableIterable<StreamClaimsRequest>();
  const abort = new AbortController();
  const received: ClaimedRun[] = [];
  const responses = h.internal.streamClaims(requests, { signal: abort.signal });
  void requests.write({ owner, leaseMs: 10_000, credits } as StreamClaimsRequest);
  const reading = (async () => {
    try {
      for await (const res of responses as AsyncIterable<StreamClaimsResponse>) received.push(...res.runs);
    } catch {
      // closed by the test
    }
  })();
  return {
    received,
    grant: (n: number) => requests.write({ owner: "", leaseMs: 0, credits: n } as StreamClaimsRequest),
    close: async () => {
      requests.close();
      abort.abort();
      await reading;
    },
  };
}

/** A stream the journal has registered (a start before that is left for ClaimRuns), closed after the test. */
async function registeredStream(owner: string, credits: number) {
  const stream = openStream(owner, credits);
  onTestFinished(() => stream.close());
  await new Promise((r) => setTimeout(r, 200));
  return stream;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("pushed claims", () => {
  it("fair order: out of credit, later runs wait behind those left for ClaimRuns, whose short answer resumes pushes", async () => {
    const stream = await registeredStream("fair", 2);
    const a = await start();
    const b = await start();
    const c = await start();
    await until("two pushed claims", () => stream.received.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    // Two credits: a and b are pushed, c stays ready for ClaimRuns.
    expect(stream.received.map((x) => x.run?.id)).toEqual([a, b]);
    const rows = await h.query<{ id: string; lease_owner: string | null; ready: boolean }>(
      "SELECT id, lease_owner, ready FROM runs WHERE id = ANY($1::uuid[])",
      [[a, b, c]],
    );
    expect(
      rows
        .filter((r) => r.lease_owner === "fair")
        .map((r) => r.id)
        .sort(),
    ).toEqual([a, b].sort());
    expect(rows.find((r) => r.id === c)).toMatchObject({ lease_owner: null, ready: true });

    // a's turn journals a step; its result makes a ready. There is credit again, but c waited
    // first: a is not pushed past it (nor would a turn's commit continue it).
    await commit(stream.received[0] as ClaimedRun, [step(1, "a")], false, "fair");
    await stream.grant(1);
    await record(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(stream.received).toHaveLength(2);
    // The owner's ClaimRuns takes both, oldest ready first; it comes back short, so pushes resume.
    const polled = await h.internal.claimRuns({ owner: "fair", maxRuns: 10, leaseMs: 10_000 });
    expect(polled.runs.map((r) => r.run?.id)).toEqual([c, a]);
    expect(polled.runs[1]).toMatchObject({ claim: 2, partial: true });
    const d = await start();
    await until("the next start to be pushed", () => stream.received.length === 3);
    expect(stream.received[2]?.run?.id).toBe(d);
  });

  it("an outcome recorded while a turn holds its run stays undelivered for the next claim", async () => {
    const stream = await registeredStream("holder", 10);
    await start();
    await until("the first push", () => stream.received.length === 1);
    await commit(stream.received[0] as ClaimedRun, [step(1, "a"), step(2, "b")], false, "holder");
    const tasks = await takeAllTasks(h, 2);
    const [one, two] = tasks.sort((a, b) => a.task.seq - b.task.seq);
    // Step 1's result: the run is pushed with it, recorded as delivered in the same statement.
    await recordTasks([one as (typeof tasks)[number]]);
    await until("the second push", () => stream.received.length === 2);
    const second = stream.received[1] as ClaimedRun;
    expect(second).toMatchObject({ claim: 2, partial: true });
    expect(second.steps.map((s) => s.seq)).toEqual([1]);
    // Step 2's result arrives while claim 2's turn holds the run: the stream has credit and the
    // run is reserved, but not leased, so the outcome must stay undelivered.
    await recordTasks([two as (typeof tasks)[number]]);
    const delivered = async (stepId: string) =>
      (await h.query<{ delivered: boolean }>("SELECT delivered FROM steps WHERE id = $1", [stepId]))[0]?.delivered;
    expect(await delivered(one?.task.stepId ?? "")).toBe(true);
    expect(await delivered(two?.task.stepId ?? "")).toBe(false);
    expect(stream.received).toHaveLength(2);
    const committed = await commit(second, [], true, "holder");
    expect(committed.claimed).toHaveLength(1);
    expect(committed.claimed[0]).toMatchObject({ claim: 3, partial: true });
    expect(committed.claimed[0]?.steps.map((s) => s.seq)).toEqual([2]);
    expect(await delivered(two?.task.stepId ?? "")).toBe(true);
  });

  it("fair order: a commit does not continue a run past those waiting for ClaimRuns", async () => {
    const stream = await registeredStream("cont", 1);
    const x = await start();
    await until("the push", () => stream.received.length === 1);
    await commit(stream.received[0] as ClaimedRun, [step(1, "a"), step(2, "b")], false, "cont");
    const tasks = await takeAllTasks(h, 2);
    const [one, two] = tasks.sort((p, q) => p.task.seq - q.task.seq);
    // Out of credit: step a's result leaves x ready for ClaimRuns, which takes it (short answer).
    await recordTasks([one as (typeof tasks)[number]]);
    const second = (await h.internal.claimRuns({ owner: "cont", maxRuns: 10, leaseMs: 10_000 })).runs;
    expect(second.map((r) => r.run?.id)).toEqual([x]);
    // Still out of credit: y waits for ClaimRuns. Step b's result comes while x's turn holds it.
    const y = await start();
    await recordTasks([two as (typeof tasks)[number]]);
    const committed = await commit(second[0] as ClaimedRun, [], true, "cont");
    // x is ready again, but y waited first: x is not continued in the answer.
    expect(committed.claimed).toEqual([]);
    expect(committed.results[0]).toMatchObject({ status: TurnStatus.COMMITTED, ready: true });
    const third = await h.internal.claimRuns({ owner: "cont", maxRuns: 10, leaseMs: 10_000 });
    expect(third.runs.map((r) => r.run?.id)).toEqual([y, x]);
    expect(stream.received).toHaveLength(1);
  });

  it("a closed stream takes no more claims; what it took stays leased to its coordinator", async () => {
    const stream = await registeredStream("leaver", 5);
    const id = await start();
    await until("the push", () => stream.received.length === 1);
    await stream.close();
    // Its lease stays (the coordinator may still commit it); a run started after the close is not pushed.
    await new Promise((r) => setTimeout(r, 200));
    const other = await start();
    const rows = await h.query<{ id: string; lease_owner: string | null }>(
      "SELECT id, lease_owner FROM runs WHERE id = ANY($1::uuid[])",
      [[id, other]],
    );
    expect(rows.find((r) => r.id === id)?.lease_owner).toBe("leaver");
    expect(rows.find((r) => r.id === other)?.lease_owner).toBeNull();
  });

  it("rejects a stream whose first message names no owner", async () => {
    const requests = createWritableIterable<StreamClaimsRequest>();
    void requests.write({ owner: "", leaseMs: 0, credits: 1 } as StreamClaimsRequest);
    const responses = h.internal.streamClaims(requests);
    await expect(
      (async () => {
        for await (const _ of responses) {
          /* nothing is expected */
        }
      })(),
    ).rejects.toThrow(/owner/);
    requests.close();
  });
});

describe("pushed claims in eager order (the default)", () => {
  let fair: Harness;
  beforeAll(async () => {
    fair = h;
    h = await startHarness("journal claims eager");
    await h.internal.registerWorker({ workerId: "w", workflows: [{ name: "wf" }] });
  });
  afterAll(async () => {
    await h?.close();
    h = fair;
  });

  it("eager order: new runs and runs made ready by results are pushed whenever there is credit", async () => {
    const stream = await registeredStream("pusher", 2);
    const ids = [await start(), await start(), await start()];
    await until("two pushed claims", () => stream.received.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    // Two credits: the third run stays ready for ClaimRuns.
    expect(stream.received).toHaveLength(2);
    expect(stream.received.every((c) => c.claim === 1 && !c.partial)).toBe(true);
    const rows = await h.query<{ id: string; lease_owner: string | null; ready: boolean }>(
      "SELECT id, lease_owner, ready FROM runs WHERE id = ANY($1::uuid[])",
      [ids],
    );
    expect(rows.filter((r) => r.lease_owner === "pusher")).toHaveLength(2);
    expect(rows.filter((r) => r.lease_owner === null && r.ready)).toHaveLength(1);

    // A turn journals a step; its result pushes the run again once credit is granted, ahead of
    // the run left waiting.
    const pushed = stream.received[0] as ClaimedRun;
    await commit(pushed, [step(1, "a")], false, "pusher");
    await stream.grant(1);
    await record(1);
    await until("the run to be pushed again", () => stream.received.length >= 3);
    expect(stream.received[2]).toMatchObject({ claim: 2, partial: true });
    expect(stream.received[2]?.run?.id).toBe(pushed.run?.id);
    expect(stream.received[2]?.steps.map((s) => s.seq)).toEqual([1]);
    expect((await h.query<{ ready: boolean }>("SELECT ready FROM runs WHERE id = $1", [ids[2]]))[0]?.ready).toBe(true);
  });
});
