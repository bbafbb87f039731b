// Workflow versioning through the real services: two coordinator deployments side by side (v1
// and v2, where v2 adds a step, reorders and renames); runs started on v1 finish on v1's code,
// new runs go to v2; a run of a version no coordinator carries waits (counted for diagnose) and
// completes once a coordinator carrying it starts.
import { type Run, RunStatus } from "@weft/contracts";
import { openDatabase, runsWaitingForVersion } from "@weft/journal";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, versionedAppPath } from "./harness.ts";

const V1 = { WEFT_E2E_DOC_CODE: "v1", WEFT_E2E_APP_VERSION: "v1" };
const V2 = { WEFT_E2E_DOC_CODE: "v2", WEFT_E2E_APP_VERSION: "v2" };
const V1_STEPS = ["extract", "analyzeA", "analyzeB", "go", "summarize"];
const V2_STEPS = ["extract", "enrich", "analyzeBeta", "analyzeA", "go", "summarize"];

let h: Harness;
beforeAll(async () => {
  h = await startHarness("versioning", { app: versionedAppPath, env: V1 });
});
afterAll(async () => {
  await h?.stop();
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const waitingForGo = (run: Run) =>
  until(`run ${run.id} waits for "go"`, async () => (await h.history(run.id)).steps.some((s) => s.eventName === "go"));

async function carried(version: string, live: boolean) {
  await until(`coordinator with ${version} ${live ? "registered" : "gone"}`, async () => {
    const rows = await h.sql("SELECT 1 FROM coordinators WHERE app_version = $1", [version]);
    return live ? rows.length > 0 : rows.length === 0;
  });
}

async function stepNames(runId: string) {
  return (await h.history(runId)).steps.filter((s) => s.seq > 0).map((s) => s.name);
}

describe("versioning with two coordinator deployments", () => {
  it("old runs finish on v1, new runs on v2", async () => {
    await carried("v1", true);
    const old = await Promise.all([0, 1, 2].map((i) => h.start("doc", `old-${i}`)));
    expect(old.map((r) => r.appVersion)).toEqual(["v1", "v1", "v1"]);
    await Promise.all(old.map(waitingForGo));

    // The v2 deployment starts next to v1.
    h.stack.coordinators.push(await h.stack.add("coordinator", V2));
    await carried("v2", true);
    const fresh = await Promise.all([0, 1, 2].map((i) => h.start("doc", `new-${i}`)));
    expect(fresh.map((r) => r.appVersion)).toEqual(["v2", "v2", "v2"]);
    await Promise.all(fresh.map(waitingForGo));

    for (const run of [...old, ...fresh]) await h.client.sendEvent({ runId: run.id, eventName: "go" });
    for (const [i, run] of old.entries()) {
      const done = await h.finished(run.id);
      expect(done.status).toBe(RunStatus.COMPLETED);
      expect(h.result(done)).toBe(`A(text(old-${i})) + B(text(old-${i}))`);
      expect(await stepNames(run.id)).toEqual(V1_STEPS);
    }
    for (const [i, run] of fresh.entries()) {
      const done = await h.finished(run.id);
      expect(done.status).toBe(RunStatus.COMPLETED);
      expect(h.result(done)).toBe(`A(rich(text(new-${i}))) + Beta(rich(text(new-${i})))`);
      expect(await stepNames(run.id)).toEqual(V2_STEPS);
    }
  });

  it("a run of a version nobody carries waits, then completes when a coordinator carrying it starts", async () => {
    // v1's deployment goes away (graceful stop: it leaves at once).
    const v1 = h.stack.coordinators.splice(0, 1)[0]!;
    await v1.stop();
    await carried("v1", false);

    const pinned = (await h.client.startWorkflow({ workflowName: "doc", args: encode("late"), appVersion: "v1" })).run!;
    expect(pinned.appVersion).toBe("v1");
    await h.client.sendEvent({ runId: pinned.id, eventName: "go" });
    const db = openDatabase(h.env.databaseUrl, 1);
    try {
      const waits = await until("the v1 run counted as waiting for its version", async () => {
        const w = await runsWaitingForVersion(db, 30_000);
        return w.length > 0 && w;
      });
      expect(waits.map((w) => [w.workflowName, w.appVersion, w.runs])).toEqual([["doc", "v1", 1]]);

      // Meanwhile v2 keeps serving new runs; the v1 run is left alone.
      const other = await h.start("doc", "meanwhile");
      expect(other.appVersion).toBe("v2");
      await h.client.sendEvent({ runId: other.id, eventName: "go" });
      expect((await h.finished(other.id)).status).toBe(RunStatus.COMPLETED);
      const still = await h.history(pinned.id);
      expect(still.run?.status).toBe(RunStatus.RUNNING);
      expect(still.steps).toEqual([]);

      // A v1 coordinator starts again: the run completes on v1's code.
      h.stack.coordinators.push(await h.stack.add("coordinator", V1));
      const done = await h.finished(pinned.id);
      expect(done.status).toBe(RunStatus.COMPLETED);
      expect(h.result(done)).toBe("A(text(late)) + B(text(late))");
      expect(await stepNames(pinned.id)).toEqual(V1_STEPS);
      expect(await runsWaitingForVersion(db, 30_000)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
