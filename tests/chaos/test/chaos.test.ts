// The chaos run at CI size: every fault of the schedule (executor kills, one and all, coordinator
// kills, journal kill, nats-server and Postgres restarts, SIGSTOP of an executor and of a
// coordinator past their leases) while pipeline workflows run, on a private Postgres and
// nats-server. The invariants are checked from the database and the handlers' side-effect log.
import { expect, it } from "vitest";
import { defaultFaults, formatReport, runChaos, writeReport } from "../src/run.ts";

it("keeps every invariant through every fault", async () => {
  const size = Number(process.env.WEFT_CHAOS_CI_SIZE ?? "400");
  const report = await runChaos({ size, startSeconds: 40, log: () => {} });
  process.stdout.write(`${formatReport(report)}\nreport: ${writeReport(report, "-ci")}\n`);

  expect(report.faults.map((f) => f.kind)).toEqual(defaultFaults);
  expect(report.violations).toEqual([]);
  // Every workflow terminal with the right result, each step journaled once, nothing stuck.
  expect(report.runs).toEqual({ completed: size, failed: 0, running: 0, other: 0, wrongResult: 0, missing: 0 });
  expect(report.steps).toEqual({ completed: size * 4, notCompleted: 0, perRunMismatch: 0 });
  expect(report.stuck).toEqual({ readyRuns: 0, leasedRuns: 0, runningSteps: 0 });
  expect(report.executions.appliedTwice).toBe(0);
  expect(report.executions.appliedWithoutEndInLog).toBe(0);
  // Every execution beyond a step's first: a retry after an injected failure, or a fault.
  expect(report.executions.unexplained).toBe(0);
  // The late writers after SIGCONT were turned away: fenced turns, duplicate results.
  expect(report.fencing.coordinatorFencedTurns).toBeGreaterThan(0);
  expect(report.faults.find((f) => f.kind === "pause-coordinator")?.rejectedLateWrites).toBeGreaterThan(0);
  expect(report.faults.find((f) => f.kind === "pause-executor")?.rejectedLateWrites).toBeGreaterThan(0);
});
