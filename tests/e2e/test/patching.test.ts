// In-place workflow changes through the real services, one coordinator build replacing another
// under the same app version: with ctx.patched an in-flight old run takes the old branch and new
// runs the new one (a step added, two reordered, one renamed); without a patch the old run fails
// with a NonDeterminismError naming both steps.
import { type Run, RunStatus, StepKind } from "@weft/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness, versionedAppPath } from "./harness.ts";

const build = (code: string) => ({ WEFT_E2E_DOC_CODE: code, WEFT_E2E_APP_VERSION: "v1" });

let h: Harness;
beforeAll(async () => {
  h = await startHarness("patching", { app: versionedAppPath, env: build("v1") });
});
afterAll(async () => {
  await h?.stop();
});

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const waitingForGo = (run: Run) =>
  until(`run ${run.id} waits for "go"`, async () => (await h.history(run.id)).steps.some((s) => s.eventName === "go"));

/** Replaces the running coordinator by one running another build of the code. */
async function deploy(code: string) {
  for (const old of h.stack.coordinators.splice(0)) await old.stop();
  h.stack.coordinators.push(await h.stack.add("coordinator", build(code)));
}

const journalOf = async (runId: string) =>
  (await h.history(runId)).steps.filter((s) => s.seq > 0).map((s) => [s.seq, s.name, s.kind === StepKind.PATCH]);

let old: Run;
let doomed: Run;

describe("changing a workflow in place", () => {
  it("patched: an in-flight old run takes the old branch, a new run the new one", async () => {
    old = await h.start("doc", "old");
    doomed = await h.start("doc", "doomed");
    await Promise.all([waitingForGo(old), waitingForGo(doomed)]);

    await deploy("patched");
    await h.client.sendEvent({ runId: old.id, eventName: "go" });
    const oldDone = await h.finished(old.id);
    expect(oldDone.status).toBe(RunStatus.COMPLETED);
    expect(h.result(oldDone)).toBe("A(text(old)) + B(text(old))");
    expect(await journalOf(old.id)).toEqual([
      [1, "extract", false],
      [2, "analyzeA", false],
      [3, "analyzeB", false],
      [4, "go", false],
      [5, "summarize", false],
    ]);

    const fresh = await h.start("doc", "new");
    await waitingForGo(fresh);
    await h.client.sendEvent({ runId: fresh.id, eventName: "go" });
    const freshDone = await h.finished(fresh.id);
    expect(freshDone.status).toBe(RunStatus.COMPLETED);
    expect(h.result(freshDone)).toBe("A(rich(text(new))) + Beta(rich(text(new)))");
    expect(await journalOf(fresh.id)).toEqual([
      [1, "extract", false],
      [2, "v2-analysis", true],
      [3, "enrich", false],
      [4, "analyzeBeta", false],
      [5, "analyzeA", false],
      [6, "go", false],
      [7, "summarize", false],
    ]);
  });

  it("no mechanism: the in-flight old run fails with a NonDeterminismError naming both steps", async () => {
    await deploy("unpatched");
    await h.client.sendEvent({ runId: doomed.id, eventName: "go" });
    const done = await h.finished(doomed.id);
    expect(done.status).toBe(RunStatus.FAILED);
    expect(done.error?.name).toBe("NonDeterminismError");
    expect(done.error?.message).toContain('the code called action "enrich" but the journal has action "analyzeA"');
  });
});
