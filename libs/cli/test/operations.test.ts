// Operations against a real stack: a completed pipeline run exported with `weft history --json`,
// replayed with `weft replay` against the same app (ok, exit 0) and against changed apps (renamed,
// reordered, added step: the first divergence, exit 1); then `weft diagnose` with the executors
// and the coordinator stopped (a task backlog, then a ready run nobody claims).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { weft as cli, pipelineApp, startTestStack, type TestStack } from "./stack.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url));

let t: TestStack;
let dir = "";
let historyFile = "";
let runId = "";
const weft = (...args: string[]) => cli(t.stack.journalUrl, args);

beforeAll(async () => {
  t = await startTestStack("cli operations");
  dir = await mkdtemp(join(tmpdir(), "weft-replay-"));
});
afterAll(async () => {
  await t?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("weft history --json and weft replay", () => {
  it("exports a completed pipeline run in the weft.history.v1 format", async () => {
    const started = await weft(
      "--json",
      "start",
      "pipeline",
      JSON.stringify({ id: 3, text: "replay me now" }),
      "--wait",
    );
    expect(started.code).toBe(0);
    runId = JSON.parse(started.stdout).runId;
    const exported = await weft("--json", "history", runId);
    expect(exported.code).toBe(0);
    const history = JSON.parse(exported.stdout);
    expect(history).toMatchObject({
      format: "weft.history.v1",
      run: { id: runId, status: "completed", generation: 1 },
    });
    expect(history.steps.map((s: { seq: number; name: string; kind: string }) => [s.seq, s.name, s.kind])).toEqual([
      [1, "extract", "action"],
      [2, "analyzeA", "action"],
      [3, "analyzeB", "action"],
      [4, "summarize", "action"],
    ]);
    expect(
      history.steps.every(
        (s: { status: string; completionOrder: string }) => s.status === "completed" && /^\d+$/.test(s.completionOrder),
      ),
    ).toBe(true);
    historyFile = join(dir, "run.json");
    await writeFile(historyFile, exported.stdout);
  });

  it("the same app replays the history: ok, exit 0", async () => {
    const res = await weft("replay", "--history", historyFile, "--app", pipelineApp);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^ok: run .* replays its 4 recorded steps \(completed\)/);
    const json = await weft("--json", "replay", "--history", historyFile, "--app", pipelineApp);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, replayedSteps: 4, outcome: "completed", runId });
  });

  it.each([
    ["pipeline-renamed", 1, { name: "extract", kind: "action" }, { name: "extractText", kind: "action" }],
    ["pipeline-reordered", 2, { name: "analyzeA", kind: "action" }, { name: "analyzeB", kind: "action" }],
    ["pipeline-added", 5, null, { name: "notify", kind: "action" }],
  ])("a changed app (%s) diverges at step %i: exit 1", async (app, seq, expected, actual) => {
    const res = await weft("--json", "replay", "--history", historyFile, "--app", fixture(app));
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, runId, divergence: { seq, expected, actual } });
    const human = await weft("replay", "--history", historyFile, "--app", fixture(app));
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`divergence: run ${runId} (pipeline, completed): step ${seq}:`);
  });

  it("a bad history file or app path is a usage error: exit 2", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(bad, JSON.stringify({ format: "something-else" }));
    const wrongFormat = await weft("replay", "--history", bad, "--app", pipelineApp);
    expect(wrongFormat.code).toBe(2);
    expect(wrongFormat.stderr).toContain('format: expected "weft.history.v1"');
    const noApp = await weft("replay", "--history", historyFile, "--app", join(dir, "missing.ts"));
    expect(noApp.code).toBe(2);
    expect(noApp.stderr).toContain("--app: cannot load app module");
    const noFile = await weft("replay", "--history", join(dir, "nope.json"), "--app", pipelineApp);
    expect(noFile.code).toBe(2);
  });
});

describe("weft diagnose", () => {
  const diagnose = async (...args: string[]) => {
    const res = await weft("--json", "diagnose", ...args);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    return JSON.parse(res.stdout);
  };
  const until = async <T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> => {
    for (let i = 0; i < 200; i++) {
      const v = await read();
      if (ok(v)) return v;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("diagnose never showed the expected backlog");
  };

  it("shows the task backlog without executors and a ready run nobody claims without a coordinator", async () => {
    const idle = await diagnose();
    expect(idle.shards.length).toBeGreaterThan(0);
    expect(idle.readyRuns).toBe(0);
    expect(idle.shards.some((s: { executor?: string }) => s.executor)).toBe(true);

    for (const executor of t.stack.executors) await executor.stop();
    const stuck = await weft("start", "pipeline", JSON.stringify({ id: 9, text: "no executor" }));
    expect(stuck.code).toBe(0);
    // The coordinator commits extract; its task waits in JetStream with nobody to run it.
    const backlog = await until(
      () => diagnose(),
      (d) => d.shards.reduce((n: number, s: { tasksPending: number }) => n + s.tasksPending, 0) >= 1,
    );
    const shard = backlog.shards.find((s: { tasksPending: number }) => s.tasksPending >= 1);
    expect(shard.runningTasks).toBeGreaterThanOrEqual(1);
    expect(shard.oldestUnackedAgeMs).toBeGreaterThan(0);

    for (const coordinator of t.stack.coordinators) await coordinator.stop();
    const waiting = await weft("--json", "start", "pipeline", JSON.stringify({ id: 10, text: "no coordinator" }));
    const waitingId = JSON.parse(waiting.stdout).runId;
    const unclaimed = await until(
      () => diagnose("--unclaimed", "0.2"),
      (d) => d.unclaimedRuns.some((r: { runId: string }) => r.runId === waitingId),
    );
    expect(unclaimed.readyRuns).toBeGreaterThanOrEqual(1);
    expect(unclaimed.oldestReadyAgeMs).toBeGreaterThanOrEqual(200);
    expect(unclaimed.unclaimedThresholdMs).toBe(200);
    expect(unclaimed.versions.available).toBe(true);

    const human = await weft("diagnose", "--unclaimed", "0.2");
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^SHARD\s+READY\s+OLDEST READY/m);
    expect(human.stdout).toContain(waitingId);
    expect(human.stdout).toMatch(/ready runs by app version:\n/);
  });
});
