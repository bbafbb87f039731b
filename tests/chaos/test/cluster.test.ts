// The scale-out path at CI size: a three-node JetStream cluster on loopback (task stream with
// three replicas) and two of each Weft service, one "machine" per node; node 0 (its nats-server,
// journal, coordinator and executor) is killed mid-run and comes back 10 s later.
import { expect, it } from "vitest";
import { formatReport, runChaos, writeReport } from "../src/run.ts";

it("loses nothing when a NATS node and one replica of each service die", async () => {
  const size = Number(process.env.WEFT_CHAOS_CI_CLUSTER_SIZE ?? "400");
  const report = await runChaos({ size, cluster: true, startSeconds: 20, log: () => {} });
  process.stdout.write(`${formatReport(report)}\nreport: ${writeReport(report, "-ci")}\n`);

  expect(report.services).toEqual({ journal: 2, coordinator: 2, executor: 2 });
  expect(report.streamReplicas).toBe(3);
  expect(report.faults.map((f) => f.kind)).toEqual(["kill-node"]);
  expect(report.faults[0]?.victims.map((v) => v.name.replace(/\.\d+$/, ""))).toEqual([
    "chaos-nats-0",
    "journal-0",
    "coordinator-0",
    "executor-0",
  ]);
  expect(report.violations).toEqual([]);
  expect(report.runs).toEqual({ completed: size, failed: 0, running: 0, other: 0, wrongResult: 0, missing: 0 });
  expect(report.steps).toEqual({ completed: size * 4, notCompleted: 0, perRunMismatch: 0 });
  expect(report.stuck).toEqual({ readyRuns: 0, leasedRuns: 0, runningSteps: 0 });
  expect(report.executions.unexplained).toBe(0);
});
