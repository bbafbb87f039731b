// The keep-alive clocks of held tasks: `working()` at the keep-alive, a step heartbeat at a third
// of the journal's dispatch timeout after the task's publish or its last heartbeat (real
// JetStream delivery is covered by the executor tests).
import type { JsMsg } from "@nats-io/jetstream";
import { StepKind, type StepTask } from "@weft/contracts";
import { createLogger } from "@weft/runtime";
import { describe, expect, test } from "vitest";
import { HeldTasks, STEP_FINISHED } from "./held-tasks.ts";

const logger = createLogger("held-tasks-test", "silent");

/** A message as the executor gets it: publish time in the stream, `working()` counted. */
function message(publishedAtMs: number) {
  const msg = {
    data: new Uint8Array(10),
    workings: 0,
    working() {
      msg.workings++;
    },
    ack() {},
    nak() {},
    info: { timestampNanos: publishedAtMs * 1e6 },
  };
  return msg;
}

function setup(options: { keepAliveMs: number; dispatchTimeoutMs?: number; finished?: string[] }) {
  const heartbeats: string[][] = [];
  let fail = false;
  const held = new HeldTasks({
    keepAliveMs: options.keepAliveMs,
    logger,
    heartbeat: async (stepIds) => {
      if (fail) throw new Error("journal unavailable (test)");
      heartbeats.push(stepIds);
      return stepIds.filter((id) => options.finished?.includes(id));
    },
  });
  if (options.dispatchTimeoutMs !== undefined) held.fitDispatchTimeout(options.dispatchTimeoutMs);
  const add = (stepId: string, publishedAtMs = Date.now(), runId = `run-of-${stepId}`, kind = StepKind.ACTION) => {
    const msg = message(publishedAtMs);
    const task = held.add(msg as unknown as JsMsg, { stepId, runId, kind } as StepTask);
    return { msg, task };
  };
  return { held, heartbeats, add, failHeartbeats: (v: boolean) => (fail = v) };
}

describe("HeldTasks", () => {
  test("a step that ends within a third of the dispatch timeout is kept alive in JetStream but never heartbeated", async () => {
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000, dispatchTimeoutMs: 60_000 });
    const t0 = Date.now();
    const { msg } = add("short", t0);
    await held.sweep(t0 + 12_000);
    expect(msg.workings).toBe(1);
    expect(heartbeats).toEqual([]);
  });

  test("each step is heartbeated once per third of the timeout, not at every sweep", async () => {
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000, dispatchTimeoutMs: 60_000 });
    const t0 = Date.now();
    add("long", t0);
    for (let t = 5_000; t <= 60_000; t += 5_000) await held.sweep(t0 + t);
    // At 20 s, 40 s and 60 s after the dispatch: 3 heartbeats, where every sweep past the
    // keep-alive sent one before (11).
    expect(heartbeats).toEqual([["long"], ["long"], ["long"]]);
  });

  test("the dispatch clock starts at the publish: a task that waited in the stream is heartbeated sooner", async () => {
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000, dispatchTimeoutMs: 60_000 });
    const now = Date.now();
    add("waited", now - 15_000);
    add("fresh", now);
    await held.sweep(now + 5_000);
    expect(heartbeats).toEqual([["waited"]]);
  });

  test("without the journal's timeout, steps are heartbeated at the keep-alive", async () => {
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000 });
    const t0 = Date.now();
    add("a", t0);
    await held.sweep(t0 + 5_000);
    await held.sweep(t0 + 10_000);
    await held.sweep(t0 + 15_000);
    await held.sweep(t0 + 20_000);
    expect(heartbeats).toEqual([["a"], ["a"]]);
  });

  test("without the journal's timeout, heartbeats follow a keep-alive shortened to the ack wait", async () => {
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000 });
    held.fitAckWait(3_000);
    const t0 = Date.now();
    const { msg } = add("a", t0);
    await held.sweep(t0 + 1_000);
    expect(msg.workings).toBe(1);
    expect(heartbeats).toEqual([["a"]]);
  });

  test("a failed heartbeat is sent again at the next sweep", async () => {
    const { held, heartbeats, add, failHeartbeats } = setup({ keepAliveMs: 10_000, dispatchTimeoutMs: 60_000 });
    const t0 = Date.now();
    add("a", t0);
    failHeartbeats(true);
    await held.sweep(t0 + 20_000);
    failHeartbeats(false);
    await held.sweep(t0 + 25_000);
    expect(heartbeats).toEqual([["a"]]);
  });

  test("a step the journal reports finished is aborted", async () => {
    const { held, add } = setup({ keepAliveMs: 1_000, dispatchTimeoutMs: 3_000, finished: ["gone"] });
    const t0 = Date.now();
    const gone = add("gone", t0);
    const running = add("running", t0);
    await held.sweep(t0 + 1_000);
    expect(gone.task.controller.signal.reason).toBe(STEP_FINISHED);
    expect(running.task.controller.signal.aborted).toBe(false);
  });

  test("an ended run's held steps are checked with the journal at once; those it reports finished stop", async () => {
    // The journal reports a and b finished (canceled with their run), not the hook (an ON_COMPLETE
    // task the end made) nor c (a task of a generation a reset started after the end).
    const { held, heartbeats, add } = setup({ keepAliveMs: 10_000, finished: ["a", "b"] });
    const now = Date.now();
    const a = add("a", now, "run-1");
    const b = add("b", now, "run-1");
    const hook = add("hook", now, "run-1", StepKind.ON_COMPLETE);
    const c = add("c", now, "run-3");
    const other = add("other", now, "run-2");
    expect(await held.runsEnded(["run-1", "run-3", "run-unknown"])).toBe(2);
    expect(heartbeats).toEqual([["a", "b", "hook", "c"]]);
    expect([a, b].map((t) => t.task.controller.signal.reason)).toEqual([STEP_FINISHED, STEP_FINISHED]);
    for (const t of [hook, c, other]) expect(t.task.controller.signal.aborted).toBe(false);
    // Acked tasks leave the run's index: a second notice asks only about what is still held.
    held.ack(a.task);
    held.ack(b.task);
    expect(await held.runsEnded(["run-1"])).toBe(0);
    expect(heartbeats.at(-1)).toEqual(["hook"]);
    // A run with nothing held costs no call.
    expect(await held.runsEnded(["run-unknown"])).toBe(0);
    expect(heartbeats).toHaveLength(2);
  });

  test("a failed check of an ended run's steps stops nothing (the next heartbeat asks again)", async () => {
    const { held, add, failHeartbeats } = setup({ keepAliveMs: 10_000, finished: ["a"] });
    const a = add("a", Date.now(), "run-1");
    failHeartbeats(true);
    expect(await held.runsEnded(["run-1"])).toBe(0);
    expect(a.task.controller.signal.aborted).toBe(false);
  });
});
