// The `weft` command as a child process against a real, isolated stack running the pipeline app:
// output (human and --json) and exit codes.
import { randomUUID } from "node:crypto";
import { expectedSummary } from "@weft/example-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { weft as cli, startTestStack, type TestStack } from "./stack.ts";

let t: TestStack;
let url: string;
const weft = (...args: string[]) => cli(url, args);
const json = (stdout: string) => JSON.parse(stdout.trim());

beforeAll(async () => {
  t = await startTestStack("cli");
  url = t.stack.journalUrl;
});
afterAll(async () => {
  await t?.stop();
});

describe("weft", () => {
  const input = { id: 7, text: "weave the warp" };
  let runId = "";

  it("start --wait --json runs the pipeline to its result", async () => {
    const res = await weft("--json", "start", "pipeline", JSON.stringify(input), "--wait", "-k", "cli-7");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const out = json(res.stdout);
    expect(out).toMatchObject({ existing: false, run: { status: "completed", result: expectedSummary(input) } });
    runId = out.runId;
    // The same idempotency key returns the same run.
    const again = await weft("start", "pipeline", JSON.stringify(input), "-k", "cli-7", "--json");
    expect(json(again.stdout)).toMatchObject({ runId, existing: true });
  });

  it("result, get, history and list show the run", async () => {
    const result = await weft("result", runId);
    expect(result).toMatchObject({ code: 0, stdout: `${expectedSummary(input)}\n` });
    expect(json((await weft("result", runId, "--json")).stdout)).toEqual({
      runId,
      status: "completed",
      result: expectedSummary(input),
    });

    const get = await weft("get", runId);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(/^status\s+completed$/m);
    expect(get.stdout).toMatch(/^workflow\s+pipeline$/m);
    expect(json((await weft("get", runId, "--json")).stdout)).toMatchObject({ id: runId, args: input });

    const history = await weft("history", runId);
    expect(history.code).toBe(0);
    for (const step of ["extract", "analyzeA", "analyzeB", "summarize"]) expect(history.stdout).toContain(step);

    const list = await weft("list", "--workflow", "pipeline", "--status", "completed", "--json");
    expect(json(list.stdout).runs.map((r: { id: string }) => r.id)).toContain(runId);
    const table = await weft("list", "--all");
    expect(table.stdout.split("\n")[0]).toMatch(/^RUN\s+WORKFLOW\s+STATUS/);
    expect(table.stdout).toContain(runId);
  });

  it("watch --steps prints the changes of a run until it ends", async () => {
    const started = json((await weft("start", "pipeline", '{"id":8,"text":"a b","stepMs":150}', "--json")).stdout);
    const watch = await weft("watch", started.runId, "--steps");
    expect(watch.code).toBe(0);
    expect(watch.stdout).toMatch(/completed\s+4\/4 steps\s+result #8: 2 words, 2 letters$/m);
    expect(watch.stdout).toMatch(/#4 action summarize completed/);
  });

  it("events, timeouts and cancel on a slow run; result exits 1 once it is canceled", async () => {
    const slow = json((await weft("start", "pipeline", '{"id":9,"text":"slow","stepMs":60000}', "--json")).stdout);
    const sent = await weft("send-event", slow.runId, "approve", '{"ok":true}', "--json");
    expect(sent.code).toBe(0);
    expect(json(sent.stdout)).toMatchObject({ delivered: false });

    const waited = await weft("result", slow.runId, "--timeout", "0.5");
    expect(waited.code).toBe(5);
    expect(waited.stderr).toMatch(/\[deadline_exceeded\] timed out after 0.5s/);

    const canceled = await weft("cancel", slow.runId, "--reason", "not needed", "--json");
    expect(canceled.code).toBe(0);
    expect(json(canceled.stdout)).toMatchObject({ status: "canceled", error: { message: "not needed" } });

    const result = await weft("result", slow.runId);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`run ${slow.runId} was canceled: CanceledError: not needed`);
    // Events to an ended run are refused: a rejected request, exit 2.
    const late = await weft("send-event", slow.runId, "approve");
    expect(late.code).toBe(2);
    expect(late.stderr).toMatch(/^weft: \[failed_precondition\] run_id: .* canceled/);
  });

  it("reset runs a completed run again from a step; retry-failed --dry-run counts", async () => {
    const reset = await weft("reset", runId, "--from", "summarize", "--json");
    expect(reset.code).toBe(0);
    expect(json(reset.stdout)).toMatchObject({ fromSeq: 4, run: { id: runId, generation: 2, status: "running" } });
    expect(await weft("result", runId)).toMatchObject({ code: 0, stdout: `${expectedSummary(input)}\n` });
    const history = json((await weft("history", runId, "--json")).stdout);
    const summaries = history.steps.filter((s: { name: string }) => s.name === "summarize");
    expect(summaries.map((s: { generation: number }) => s.generation).sort()).toEqual([1, 2]);

    const bad = await weft("reset", runId, "--from", "99");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/from_seq: must be between 1 and 5/);

    const dry = await weft("retry-failed", "--workflow", "pipeline", "--dry-run", "--json");
    expect(dry.code).toBe(0);
    expect(json(dry.stdout)).toEqual({ dryRun: true, count: 0 });
    const none = await weft("retry-failed", "--workflow", "pipeline");
    expect(none).toMatchObject({ code: 0, stdout: "reset 0 failed runs\n" });
  });

  it("exit codes: 3 not found, 2 bad input, 4 unreachable", async () => {
    const missing = await weft("send-event", randomUUID(), "approve", "1");
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/^weft: \[not_found\] run_id: run .* does not exist/);

    const before = json((await weft("list", "--all", "--json")).stdout).runs.length;
    const badJson = await weft("start", "pipeline", "{id: 1}");
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^weft: \[invalid_argument\] args-json is not valid JSON/);
    expect(json((await weft("list", "--all", "--json")).stdout).runs.length).toBe(before);

    const badId = await weft("get", "not-a-uuid", "--json");
    expect(badId.code).toBe(2);
    expect(json(badId.stderr)).toEqual({
      error: { code: "invalid_argument", message: 'run_id: "not-a-uuid" is not a UUID' },
    });

    expect((await weft("list", "--limit", "0")).code).toBe(2);
    expect((await weft("frobnicate")).code).toBe(2);

    const down = await cli("http://127.0.0.1:1", ["get", randomUUID()]);
    expect(down.code).toBe(4);
    expect(down.stderr).toMatch(/^weft: \[unavailable\]/);
  });
});
