// App versions: new runs get the newest version a live coordinator carries (or a pinned one),
// claims filter by version, runs of a version nobody carries wait and are counted, PATCH markers
// are journaled completed.
import { Code } from "@connectrpc/connect";
import { createWritableIterable } from "@connectrpc/connect/protocol";
import {
  type ClaimedRun,
  encodePayload,
  StepKind,
  StepStatus,
  type StreamClaimsRequest,
  type StreamClaimsResponse,
  TurnStatus,
  WorkerRole,
} from "@weft/contracts";
import { afterAll, beforeAll, expect, onTestFinished, test } from "vitest";
import { countRunsWaitingForVersion, openDatabase, runsWaitingForVersion } from "../src/index.ts";
import { claimRun, expectConnectError, type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("journal versions");
});
afterAll(async () => {
  await h?.close();
});

const register = (workerId: string, appVersion: string, leaving = false) =>
  h.internal.registerWorker({
    workerId,
    role: WorkerRole.COORDINATOR,
    appVersion,
    workflows: [{ name: "pipeline" }],
    leaving,
  });

async function start(appVersion = "") {
  const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline", args: encodePayload(1), appVersion });
  if (!run) throw new Error("no run");
  return run;
}

test("new runs go to the newest live version; pinned runs keep theirs; claims filter by version", async () => {
  await register("c-v1", "v1");
  const r1 = await start();
  expect(r1.appVersion).toBe("v1");
  await register("c-v2", "v2");
  // A v1 coordinator re-registering (its heartbeat, or a restart) does not make v1 newest again.
  await register("c-v1", "v1");
  const r2 = await start();
  expect(r2.appVersion).toBe("v2");
  expect((await start("v1")).appVersion).toBe("v1");
  await expectConnectError(
    h.workflows.startWorkflow({ workflowName: "pipeline", appVersion: "v9" }),
    Code.NotFound,
    "app_version",
  );

  // A v2 coordinator claims only v2 runs.
  const v2 = await h.internal.claimRuns({ owner: "c-v2", maxRuns: 100, leaseMs: 10_000, appVersions: ["v2"] });
  expect(v2.runs.map((r) => r.run?.id)).toEqual([r2.id]);

  // v1's coordinators leave: v1 runs wait (counted); new runs still go to v2.
  await register("c-v1", "v1", true);
  const db = openDatabase(h.env.databaseUrl, 1);
  try {
    const waits = await runsWaitingForVersion(db, 30_000);
    expect(waits.map((w) => [w.workflowName, w.appVersion, w.runs])).toEqual([["pipeline", "v1", 2]]);
    expect(await countRunsWaitingForVersion(db, 30_000)).toBe(2);
    // When v2's coordinator is gone too, the newest registered version still gets new runs.
    await register("c-v2", "v2", true);
    expect((await start()).appVersion).toBe("v2");
    // A v1 coordinator comes back: only v1 is live, so new runs go to v1.
    await register("c-v1b", "v1");
    expect((await start()).appVersion).toBe("v1");
    expect((await runsWaitingForVersion(db, 30_000)).map((w) => [w.appVersion, w.runs])).toEqual([["v2", 1]]);
  } finally {
    await db.destroy();
  }
  const v1 = await h.internal.claimRuns({ owner: "c-v1b", maxRuns: 100, leaseMs: 10_000, appVersions: ["v1"] });
  expect(v1.runs.map((r) => r.run?.appVersion)).toEqual(["v1", "v1", "v1"]);
});

test("a PATCH marker is journaled completed with its turn", async () => {
  const run = await start("v1");
  const claimed = await claimRun(h, run.id, "c-v1b");
  const res = await h.internal.commitTurns({
    owner: "c-v1b",
    turns: [
      {
        runId: run.id,
        leaseToken: claimed.leaseToken,
        generation: 1,
        newSteps: [
          { seq: 1, name: "new-summary", kind: StepKind.PATCH },
          { seq: 2, name: "extract", kind: StepKind.ACTION },
        ],
      },
    ],
  });
  expect(res.results[0]?.status).toBe(TurnStatus.COMMITTED);
  const { steps } = await h.workflows.getHistory({ runId: run.id });
  expect(steps.map((s) => [s.seq, s.kind, s.status])).toEqual([
    [1, StepKind.PATCH, StepStatus.COMPLETED],
    [2, StepKind.ACTION, StepStatus.RUNNING],
  ]);
  expect(steps[0]?.completionOrder).toBeGreaterThan(0n);
  // The marker needs no task and no executor: only extract was published.
  const rows = await h.query<{ n: string }>("SELECT count(*) AS n FROM steps WHERE kind = 'patch'");
  expect(Number(rows[0]?.n)).toBe(1);
});

test("validates app_versions", async () => {
  await expectConnectError(
    h.internal.claimRuns({ owner: "c", maxRuns: 1, appVersions: ["x".repeat(300)] }),
    Code.InvalidArgument,
    "app_versions[0]",
  );
});

test("a claim stream is pushed only runs of the versions its coordinator carries", async () => {
  await register("c-v2b", "v2");
  const requests = createWritableIterable<StreamClaimsRequest>();
  const abort = new AbortController();
  const received: ClaimedRun[] = [];
  const responses = h.internal.streamClaims(requests, { signal: abort.signal });
  void requests.write({ owner: "c-v2b", leaseMs: 10_000, credits: 100, appVersions: ["v2"] } as StreamClaimsRequest);
  const reading = (async () => {
    try {
      for await (const res of responses as AsyncIterable<StreamClaimsResponse>) received.push(...res.runs);
    } catch {
      // closed by the test
    }
  })();
  onTestFinished(async () => {
    requests.close();
    abort.abort();
    await reading;
  });
  await new Promise((r) => setTimeout(r, 200)); // the stream registers
  const v1 = await Promise.all([start("v1"), start("v1"), start("v1")]);
  const v2 = await Promise.all([start("v2"), start("v2"), start("v2")]);
  const deadline = Date.now() + 10_000;
  while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(received.map((c) => c.run?.id).sort()).toEqual(v2.map((r) => r.id).sort());
  // The v1 runs stay ready for a coordinator that carries v1.
  const claimed = await h.internal.claimRuns({ owner: "c-v1b", maxRuns: 100, leaseMs: 10_000, appVersions: ["v1"] });
  expect(claimed.runs.map((c) => c.run?.id).sort()).toEqual(v1.map((r) => r.id).sort());
});
