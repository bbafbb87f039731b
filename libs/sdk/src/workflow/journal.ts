// The shapes the replay engine exchanges with the coordinator: the run's journal in, a turn out.
import type { Failure, FailureInfo } from "../errors.ts";

/** Kinds of journal entries the workflow code creates (ON_COMPLETE is the journal's own). PATCH is a
 * ctx.patched()/deprecatePatch() marker: journaled completed, never awaited. */
export type StepKindName = "query" | "mutation" | "action" | "sleep" | "event" | "child" | "patch";

export type JournalStepStatus = "running" | "completed" | "failed" | "canceled";

export interface RunInfo {
  id: string;
  workflowName: string;
  /** Decoded JSON args. */
  args: unknown;
  createdAtMs: number;
  /** The run's generation (a reset starts a new one); a live execution of another generation is stale. */
  generation?: number;
}

/** One journaled step call of the run's current generation. */
export interface JournalStep {
  seq: number;
  name: string;
  kind: StepKindName;
  status: JournalStepStatus;
  /** Decoded JSON result (completed steps; the payload for events). */
  result?: unknown;
  failure?: FailureInfo;
  /** Global order in which outcomes were recorded; replay delivers outcomes in this order. */
  completionOrder: bigint | number;
  completedAtMs?: number;
  childRunId?: string;
}

export interface TurnInput {
  run: RunInfo;
  steps: readonly JournalStep[];
  /**
   * Determinism test mode: replay the workflow a second time from scratch and fail the run with a
   * NonDeterminismError if the two turns differ (catches Date.now(), Math.random(), I/O in
   * workflow code). Costs a second replay.
   */
  alwaysReplay?: boolean;
  /**
   * The claim this turn serves: its number among the run's claims (from 1) and whether `steps`
   * holds only the outcomes since claim `number - 1` (the journal's incremental claims). A partial
   * claim can only be served by the live execution that took the previous claim.
   */
  claim?: { number: number; partial: boolean };
}

/** A step call the journal has not seen yet: the coordinator inserts it. */
export interface NewStepCommand {
  seq: number;
  name: string;
  kind: StepKindName;
  /** JSON-safe copy of the call's args (null for sleep/event). */
  args: unknown;
  /** sleep: when the timer fires. */
  wakeAtMs?: number;
  /** event: the awaited event's name. */
  eventName?: string;
  /** event with timeout: when the wait fails with TimeoutError. */
  timeoutAtMs?: number;
  /** child: the child workflow's name. */
  childWorkflowName?: string;
}

export type TurnCompletion = { result: unknown } | { failure: Failure };

export interface TurnOutcome {
  newSteps: NewStepCommand[];
  /** Set when the workflow function returned or threw (or the run failed on non-determinism). */
  completion?: TurnCompletion;
}

export const EXECUTOR_KINDS: ReadonlySet<StepKindName> = new Set(["query", "mutation", "action"]);
