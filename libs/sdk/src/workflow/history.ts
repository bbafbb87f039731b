// The history export format (weft.history.v1) and the replay check: run the current workflow code
// against a recorded history and report the first step where the code and the history part ways.
// Pure: no I/O, so CI can run it against committed history files.
import type { App } from "../app.ts";
import type { Failure } from "../errors.ts";
import { WorkflowExecution, WorkflowNotFoundError } from "./execution.ts";
import type { JournalStep, JournalStepStatus, StepKindName } from "./journal.ts";

export const HISTORY_FORMAT = "weft.history.v1";

/** Times are ISO-8601 strings (or null); payloads are the decoded JSON values. */
export interface HistoryRun {
  id: string;
  workflowName: string;
  status: "running" | "completed" | "failed" | "canceled";
  args: unknown;
  result: unknown;
  error: Failure | null;
  generation: number;
  shard: number;
  appVersion: string | null;
  idempotencyKey: string | null;
  parentRunId: string | null;
  createdAt: string;
  updatedAt: string | null;
  completedAt: string | null;
}

export interface HistoryStep {
  id: string;
  generation: number;
  seq: number;
  name: string;
  /** query, mutation, action, sleep, event, child, or on_complete (seq 0, not replayed). */
  kind: string;
  status: JournalStepStatus;
  args: unknown;
  result: unknown;
  error: Failure | null;
  attempt: number;
  /** Global order in which outcomes were recorded, as a decimal string ("0" while running). */
  completionOrder: string;
  createdAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  wakeAt: string | null;
  timeoutAt: string | null;
  eventName: string | null;
  childWorkflowName: string | null;
  childRunId: string | null;
}

export interface HistoryEvent {
  id: string;
  name: string;
  payload: unknown;
  createdAt: string | null;
  /** Seq of the event step that consumed it; null while unconsumed. */
  consumedBySeq: number | null;
}

/** The run's timers, derived from its steps: sleeps and event-wait timeouts. */
export interface HistoryTimer {
  seq: number;
  kind: "sleep" | "event_timeout";
  dueAt: string;
  /** The step's status: running means the timer is still pending. */
  status: JournalStepStatus;
}

export interface HistoryExport {
  format: typeof HISTORY_FORMAT;
  exportedAt: string;
  run: HistoryRun;
  /** Every step of every generation, ordered by generation then seq. */
  steps: HistoryStep[];
  events: HistoryEvent[];
  timers: HistoryTimer[];
}

export class HistoryFormatError extends Error {
  override name = "HistoryFormatError";
}

const REPLAYED_KINDS = new Set<string>(["query", "mutation", "action", "sleep", "event", "child"]);
const STEP_STATUSES = new Set<string>(["running", "completed", "failed", "canceled"]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the shape a replay needs and names the first bad field. */
export function parseHistory(value: unknown): HistoryExport {
  if (!isObject(value)) throw new HistoryFormatError("history: expected a JSON object");
  if (value.format !== HISTORY_FORMAT) {
    throw new HistoryFormatError(`format: expected "${HISTORY_FORMAT}", got ${JSON.stringify(value.format)}`);
  }
  const run = value.run;
  if (!isObject(run)) throw new HistoryFormatError("run: expected an object");
  for (const field of ["id", "workflowName", "status", "createdAt"] as const) {
    if (typeof run[field] !== "string") throw new HistoryFormatError(`run.${field}: expected a string`);
  }
  if (!Number.isInteger(run.generation)) throw new HistoryFormatError("run.generation: expected an integer");
  if (!Array.isArray(value.steps)) throw new HistoryFormatError("steps: expected an array");
  value.steps.forEach((step: unknown, i: number) => {
    if (!isObject(step)) throw new HistoryFormatError(`steps[${i}]: expected an object`);
    if (!Number.isInteger(step.seq)) throw new HistoryFormatError(`steps[${i}].seq: expected an integer`);
    if (!Number.isInteger(step.generation)) throw new HistoryFormatError(`steps[${i}].generation: expected an integer`);
    if (typeof step.name !== "string") throw new HistoryFormatError(`steps[${i}].name: expected a string`);
    if (typeof step.kind !== "string") throw new HistoryFormatError(`steps[${i}].kind: expected a string`);
    if (typeof step.status !== "string" || !STEP_STATUSES.has(step.status)) {
      throw new HistoryFormatError(`steps[${i}].status: expected running, completed, failed or canceled`);
    }
    if (typeof step.completionOrder !== "string" || !/^\d+$/.test(step.completionOrder)) {
      throw new HistoryFormatError(`steps[${i}].completionOrder: expected a decimal string`);
    }
  });
  if (!Array.isArray(value.events)) throw new HistoryFormatError("events: expected an array");
  return value as unknown as HistoryExport;
}

export interface StepCall {
  name: string;
  kind: string;
}

/** Where the code and the history first disagree. */
export interface Divergence {
  /** The step index (seq) where they part; 0 when the workflow itself is missing. */
  seq: number;
  /** What the history recorded at that index (null: the history has no such step). */
  expected: StepCall | null;
  /** What the code calls at that index (null: the code does not call a step there). */
  actual: StepCall | null;
  message: string;
}

export type ReplayCheck =
  | {
      ok: true;
      /** Steps of the history the code replayed. */
      replayedSteps: number;
      /** Where the replay ended: the code returned, threw, or waits for steps not yet recorded. */
      outcome: "completed" | "failed" | "waiting";
    }
  | { ok: false; divergence: Divergence };

const describe = (c: StepCall) => `${c.kind} "${c.name}"`;

/**
 * Replays the history's current generation with `app` and compares the code's step calls with the
 * recorded steps, index by index. A run that has ended must not make calls beyond its history;
 * a running (or canceled) run may (they are its next steps).
 */
export async function checkHistory(app: App, history: HistoryExport): Promise<ReplayCheck> {
  const run = history.run;
  const journal: JournalStep[] = history.steps
    .filter((s) => s.generation === run.generation && s.seq >= 1 && REPLAYED_KINDS.has(s.kind))
    .sort((a, b) => a.seq - b.seq)
    .map((s) => ({
      seq: s.seq,
      name: s.name,
      kind: s.kind as StepKindName,
      status: s.status,
      result: s.status === "completed" ? (s.result ?? null) : undefined,
      failure: s.error ? { name: s.error.name, message: s.error.message } : undefined,
      completionOrder: BigInt(s.completionOrder),
      completedAtMs: s.completedAt ? Date.parse(s.completedAt) : undefined,
      childRunId: s.childRunId ?? undefined,
    }));
  let execution: WorkflowExecution;
  try {
    execution = new WorkflowExecution(app, {
      id: run.id,
      workflowName: run.workflowName,
      args: run.args ?? null,
      createdAtMs: Date.parse(run.createdAt),
    });
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    return {
      ok: false,
      divergence: { seq: 0, expected: null, actual: null, message: `workflow "${run.workflowName}" is not in the app` },
    };
  }
  const outcome = await execution.apply(journal);
  const calls = new Map(execution.stepCalls.map((c) => [c.seq, c]));
  const recorded = new Map(journal.map((s) => [s.seq, s]));
  const ended = run.status === "completed" || run.status === "failed";
  const last = Math.max(0, ...calls.keys(), ...recorded.keys());
  for (let seq = 1; seq <= last; seq++) {
    const step = recorded.get(seq);
    const call = calls.get(seq);
    const expected = step ? { name: step.name, kind: step.kind } : null;
    const actual = call ? { name: call.name, kind: call.kind } : null;
    if (expected && actual && expected.name === actual.name && expected.kind === actual.kind) continue;
    if (!expected && actual && !ended) continue; // a new step of a run still in flight
    const message =
      expected && actual
        ? `step ${seq}: the history has ${describe(expected)} but the code calls ${describe(actual)}`
        : expected
          ? `step ${seq}: the history has ${describe(expected)} but the code does not call it`
          : `step ${seq}: the code calls ${describe(actual!)} but the ${run.status} run's history ends at step ${seq - 1}`;
    return { ok: false, divergence: { seq, expected, actual, message } };
  }
  const completion = outcome.completion;
  return {
    ok: true,
    replayedSteps: journal.length,
    outcome: !completion ? "waiting" : "result" in completion ? "completed" : "failed",
  };
}
