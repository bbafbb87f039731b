// Test helper: drives a run to its end the way journal + executors would, turn by turn, checking on
// every turn that a fresh replay and a live execution fed only the changes agree.
import { expect } from "vitest";
import type { App } from "../app.ts";
import { toFailure } from "../errors.ts";
import { mulberry32 } from "./deterministic.ts";
import { WorkflowExecution } from "./execution.ts";
import { ExecutionCache } from "./execution-cache.ts";
import type { JournalStep, RunInfo, TurnOutcome } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";

export interface SimulationResult {
  outcome: TurnOutcome;
  journal: JournalStep[];
  turns: number;
  maxRunning: number;
}

/** Completes a random subset of the running steps per turn (seeded), running step handlers inline. */
export async function simulate(app: App, run: RunInfo, seed = 1, maxTurns = 1000): Promise<SimulationResult> {
  const random = mulberry32(seed);
  const journal = new Map<number, JournalStep>();
  const live = new WorkflowExecution(app, run);
  const cache = new ExecutionCache(app);
  let changed: JournalStep[] = [];
  let order = 0;
  let clock = run.createdAtMs;
  let maxRunning = 0;
  const args = new Map<number, unknown>();
  for (let turn = 1; turn <= maxTurns; turn++) {
    const steps = [...journal.values()].sort((a, b) => a.seq - b.seq);
    const fresh = await replayTurn(app, { run, steps });
    const incremental = await live.apply(changed);
    expect(stripStacks(incremental)).toEqual(stripStacks(fresh));
    const cached = await cache.turn({ run, steps });
    expect(stripStacks(cached)).toEqual(stripStacks(fresh));
    if (fresh.completion) return { outcome: fresh, journal: steps, turns: turn, maxRunning };
    changed = [];
    for (const cmd of fresh.newSteps) {
      // The journal records a PATCH marker completed with its turn.
      const step: JournalStep =
        cmd.kind === "patch"
          ? { seq: cmd.seq, name: cmd.name, kind: cmd.kind, status: "completed", completionOrder: BigInt(++order) }
          : { seq: cmd.seq, name: cmd.name, kind: cmd.kind, status: "running", completionOrder: 0 };
      journal.set(cmd.seq, step);
      changed.push(step);
      args.set(cmd.seq, cmd.args);
    }
    const running = [...journal.values()].filter((s) => s.status === "running");
    maxRunning = Math.max(maxRunning, running.filter((s) => ["query", "mutation", "action"].includes(s.kind)).length);
    if (running.length === 0) throw new Error("simulation stuck: nothing running and no completion");
    // Complete at least one running step, in a shuffled order.
    const toFinish = running.filter(() => random() < 0.5);
    if (toFinish.length === 0) toFinish.push(running[Math.floor(random() * running.length)]!);
    toFinish.sort(() => random() - 0.5);
    for (const step of toFinish) {
      clock += 10;
      const done: JournalStep = { ...step, completionOrder: BigInt(++order), completedAtMs: clock };
      const def = app.steps.get(step.name);
      if (def && (step.kind === "query" || step.kind === "mutation" || step.kind === "action")) {
        try {
          done.result = await def.handler(args.get(step.seq), {
            stepId: `${run.id}-${step.seq}`,
            runId: run.id,
            workflowName: run.workflowName,
            seq: step.seq,
            attempt: 1,
            signal: new AbortController().signal,
          });
          done.status = "completed";
        } catch (err) {
          const f = toFailure(err);
          done.status = "failed";
          done.failure = { name: f.name, message: f.message };
        }
      } else {
        done.status = "completed";
        done.result = step.kind === "event" ? { event: step.name } : null;
      }
      journal.set(step.seq, done);
      changed.push(done);
    }
  }
  throw new Error(`simulation did not finish within ${maxTurns} turns`);
}

export function stripStacks(outcome: TurnOutcome): TurnOutcome {
  const c = outcome.completion;
  if (c && "failure" in c)
    return { ...outcome, completion: { failure: { name: c.failure.name, message: c.failure.message } } };
  return outcome;
}
