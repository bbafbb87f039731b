// Run change notices: a commit publishes one notice naming every run it changed (not one per run),
// and a replica's RunWatches hands a notice to the watches of the runs it names only, listening
// only while it has watches.
import type { Msg } from "@nats-io/transport-node";
import { StepKind } from "@weft/contracts";
import { runChangesSubject } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { RunWatches } from "../src/notifier.ts";
import { eventually, type Harness, startHarness } from "./harness.ts";

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
