// Run change notices: a commit publishes one notice naming every run it changed (not one per run),
// and one naming the runs it ended; a replica's RunWatches hands a notice to the watches of the
// runs it names only, listening to each subject only while it has watches that need it. A watch of
// the final state only sends one message, the ended run.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Msg } from "@nats-io/transport-node";
import { encodePayload, RunStatus, StepKind, type TurnSchema, type WatchWorkflowResponse } from "@weft/contracts";
import { runChangesSubject, runEndsSubject } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RunWatches } from "../src/notifier.ts";
import { claimRun, eventually, type Harness, startHarness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness("run notices");
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  await h?.close();
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe("notices", () => {
  test("a CommitTurns of three runs publishes one notice naming the three", async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
      runIds.push(run?.id ?? "");
    }
    // One ClaimRuns leases all three.
    const claims = await eventually(async () => {
      const { runs } = await h.internal.claimRuns({ owner: "coordinator-1", maxRuns: 100, leaseMs: 10_000 });
      const mine = runIds.map((id) => runs.find((r) => r.run?.id === id));
      return mine.every((c) => c !== undefined) ? mine : undefined;
    });

    const notices: string[][] = [];
    const sub = h.nc.subscribe(runChangesSubject(h.env.prefix), {
      callback: (_err, msg: Msg) => {
        notices.push(msg.string().split(" "));
      },
    });
    await h.nc.flush();
    await settle(); // notices of the starts and claims pass first
    notices.length = 0;
    await h.internal.commitTurns({
      owner: "coordinator-1",
      turns: runIds.map((runId, i) => ({
        runId,
        leaseToken: claims[i]?.leaseToken ?? 0n,
        generation: 1,
        newSteps: [{ seq: 1, name: "fetch", kind: StepKind.ACTION }],
      })),
    });
    await settle();
    sub.unsubscribe();
    expect(notices).toHaveLength(1);
    expect([...(notices[0] ?? [])].sort()).toEqual([...runIds].sort());
  });
});

describe("RunWatches", () => {
  test("wakes the watches of the runs a notice names, and listens only while it has watches", async () => {
    const watches = new RunWatches(h.nc, h.env.prefix);
    const woken: string[] = [];
    const a = "0193a000-0000-7000-8000-00000000000a";
    const b = "0193a000-0000-7000-8000-00000000000b";
    const c = "0193a000-0000-7000-8000-00000000000c";
    const unwatchA = watches.watch(a, () => woken.push("a1"));
    const unwatchA2 = watches.watch(a, () => woken.push("a2"));
    const unwatchB = watches.watch(b, () => woken.push("b"));
    await h.nc.flush();
    const notify = (...ids: string[]) => h.nc.publish(runChangesSubject(h.env.prefix), ids.join(" "));

    notify(a, c);
    await eventually(async () => woken.length === 2);
    expect(woken.sort()).toEqual(["a1", "a2"]);

    unwatchA();
    notify(b, a);
    await eventually(async () => woken.length === 4);
    expect(woken.slice(2).sort()).toEqual(["a2", "b"]);

    unwatchA2();
    unwatchB();
    expect(watches.size).toBe(0);
    // No watch left: the subscription is gone; a new watch subscribes again.
    notify(a, b);
    await settle();
    expect(woken).toHaveLength(4);
    const unwatchC = watches.watch(c, () => woken.push("c"));
    await h.nc.flush();
    notify(c);
    await eventually(async () => woken.length === 5);
    expect(woken[4]).toBe("c");
    unwatchC();
  });
});

/** Collects the ids of every notice on `subject` until the returned function is called. */
function listen(subject: string): { ids: string[]; stop: () => void } {
  const ids: string[] = [];
  const sub = h.nc.subscribe(subject, {
    callback: (_err, msg: Msg) => {
      ids.push(...msg.string().split(" "));
    },
  });
  return { ids, stop: () => sub.unsubscribe() };
}

/** Claims `runId` and commits one turn of it. */
async function claimAndCommit(
  runId: string,
  turn: Pick<MessageInitShape<typeof TurnSchema>, "newSteps" | "completion">,
) {
  const claim = await claimRun(h, runId);
  await h.internal.commitTurns({
    owner: "coordinator-1",
    turns: [{ runId, leaseToken: claim.leaseToken, generation: 1, ...turn }],
  });
}

/** Reads a watch to its end in the background; `messages` fills as they come. */
function readWatch(stream: AsyncIterable<WatchWorkflowResponse>) {
  const messages: WatchWorkflowResponse[] = [];
  const done = (async () => {
    for await (const m of stream) messages.push(m);
  })();
  return { messages, done };
}

describe("watches of the final state only", () => {
  test("send nothing while the run runs, then the ended run once; the commit that ends it names it", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    const full = readWatch(h.workflows.watchWorkflow({ runId }));
    const final = readWatch(h.workflows.watchWorkflow({ runId, finalOnly: true }));
    const ends = listen(runEndsSubject(h.env.prefix));
    await h.nc.flush();

    // A turn that changes the run but does not end it.
    await claimAndCommit(runId, { newSteps: [{ seq: 1, name: "fetch", kind: StepKind.ACTION }] });
    const [step] = await h.query<{ id: string }>("SELECT id FROM steps WHERE run_id = $1", [runId]);
    await h.internal.recordResultBatch({
      executorId: "executor-1",
      results: [
        {
          stepId: step?.id ?? "",
          runId,
          generation: 1,
          attempt: 1,
          outcome: { case: "result", value: encodePayload(1) },
        },
      ],
    });
    await eventually(async () => full.messages.length >= 2);
    await settle();
    expect(final.messages).toEqual([]);
    expect(ends.ids).toEqual([]);

    await claimAndCommit(runId, { completion: { outcome: { case: "result", value: encodePayload("done") } } });
    await final.done;
    await full.done;
    ends.stop();
    expect(final.messages.map((m) => m.run?.status)).toEqual([RunStatus.COMPLETED]);
    expect(full.messages.at(-1)?.run?.status).toBe(RunStatus.COMPLETED);
    expect(ends.ids).toEqual([runId]);
  });

  test("of an ended run: the one message at once", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    await h.workflows.cancelWorkflow({ runId, reason: "not needed" });
    const final = readWatch(h.workflows.watchWorkflow({ runId, finalOnly: true }));
    await final.done;
    expect(final.messages.map((m) => m.run?.status)).toEqual([RunStatus.CANCELED]);
  });

  test("a cancel names the run it ended", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    const final = readWatch(h.workflows.watchWorkflow({ runId, finalOnly: true }));
    const ends = listen(runEndsSubject(h.env.prefix));
    await h.nc.flush();
    await h.workflows.cancelWorkflow({ runId, reason: "not needed" });
    await final.done;
    await eventually(async () => ends.ids.length > 0);
    ends.stop();
    expect(ends.ids).toEqual([runId]);
    expect(final.messages.map((m) => m.run?.status)).toEqual([RunStatus.CANCELED]);
  });

  test("a lost end notice only delays the final state: the fallback read finds it", async () => {
    const { run } = await h.workflows.startWorkflow({ workflowName: "pipeline" });
    const runId = run?.id ?? "";
    const final = readWatch(h.workflows.watchWorkflow({ runId, finalOnly: true }));
    await settle();
    // Ended behind the journal's back: no commit, so no notice.
    await h.query("UPDATE runs SET status = 'completed', result = $2, completed_at = now() WHERE id = $1", [
      runId,
      Buffer.from(encodePayload("done")),
    ]);
    await final.done;
    expect(final.messages.map((m) => m.run?.status)).toEqual([RunStatus.COMPLETED]);
  });

  test("RunWatches listens to the end notices alone for them", async () => {
    const watches = new RunWatches(h.nc, h.env.prefix);
    const a = "0193a000-0000-7000-8000-0000000000aa";
    const woken: string[] = [];
    const unwatch = watches.watch(a, () => woken.push("a"), true);
    expect(watches.subscriptions).toEqual({ changes: false, ends: true });
    await h.nc.flush();
    h.nc.publish(runChangesSubject(h.env.prefix), a);
    await settle();
    expect(woken).toEqual([]);
    h.nc.publish(runEndsSubject(h.env.prefix), a);
    await eventually(async () => woken.length === 1);
    unwatch();
    expect(watches.subscriptions).toEqual({ changes: false, ends: false });
  });
});
