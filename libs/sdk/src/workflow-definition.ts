// Workflow definitions and the context their deterministic code runs with. The engine that
// implements WorkflowContext lives in ./workflow (used by coordinators).
import { DefinitionError } from "./errors.ts";
import { validateName } from "./names.ts";
import type { StepContext, StepDefinition } from "./step.ts";

/**
 * The only door from workflow code to the outside world. Workflow code is replayed many times,
 * so it must be deterministic: no I/O, no timers, no Date.now() or Math.random() (use ctx.now()
 * and ctx.random()); every effect goes through a step.
 */
export interface WorkflowContext {
  readonly runId: string;
  readonly workflowName: string;
  /** Runs a step (on an executor) and resolves with its result; rejects with StepFailedError. */
  step<A, R>(step: StepDefinition<A, R>, args: A): Promise<R>;
  /** Durable timer. */
  sleep(ms: number): Promise<void>;
  sleepUntil(time: number | Date): Promise<void>;
  /** Waits for an event sent to this run (SendEvent); with timeoutMs rejects with TimeoutError. */
  awaitEvent<T = unknown>(name: string, options?: { timeoutMs?: number }): Promise<T>;
  /** Starts a child run and resolves with its result; rejects with ChildWorkflowFailedError. */
  child<A, R>(workflow: WorkflowDefinition<A, R>, args: A): Promise<R>;
  /** Deterministic time (epoch ms): the completion time of the latest outcome seen so far. */
  now(): number;
  /** Deterministic pseudo-random number in [0, 1), seeded by the run id. */
  random(): number;
  /**
   * Branches on an in-place code change. True when the run first executes this point with this
   * code (a PATCH marker is journaled with the turn) or its journal has the marker here; false for
   * a run that was already past this point without it (take the old branch).
   */
  patched(changeId: string): boolean;
  /**
   * For a patch whose old runs are all gone: keep the marker (journaled when absent, accepted when
   * present) without branching, so runs that recorded it still replay.
   */
  deprecatePatch(changeId: string): void;
}

export interface RunOutcome<R = unknown> {
  runId: string;
  workflowName: string;
  status: "completed" | "failed" | "canceled";
  result?: R;
  error?: { name: string; message: string };
}

export type WorkflowHandler<A, R> = (ctx: WorkflowContext, args: A) => Promise<R>;

/**
 * The on-complete hook. Declared as a method so its parameter is bivariant: a definition whose
 * result type is `never` (a workflow that always throws) still fits a `WorkflowDefinition<any, any>`.
 */
export type OnCompleteHook<R> = {
  hook(info: RunOutcome<R>, ctx: StepContext): Promise<void> | void;
}["hook"];

export interface WorkflowOptions<A, R> {
  name: string;
  handler: WorkflowHandler<A, R>;
  /** Runs once on an executor after the run ended (completed, failed or canceled). */
  onComplete?: OnCompleteHook<R>;
  /** Most executor steps (query/mutation/action) running at once for one run. */
  maxStepsInFlight?: number;
}

/** Default cap on concurrently running executor steps of one run. */
export const DEFAULT_MAX_STEPS_IN_FLIGHT = 100;

export interface WorkflowDefinition<A = unknown, R = unknown> {
  readonly name: string;
  readonly handler: WorkflowHandler<A, R>;
  readonly onComplete: OnCompleteHook<R> | undefined;
  readonly maxStepsInFlight: number;
}

export const WORKFLOW_BRAND: unique symbol = Symbol.for("weft.sdk.workflow") as never;

export function defineWorkflow<A, R>(options: WorkflowOptions<A, R>): WorkflowDefinition<A, R> {
  const name = validateName("workflow", options?.name);
  if (typeof options.handler !== "function") {
    throw new DefinitionError(`workflow "${name}": handler must be a function`);
  }
  if (options.onComplete !== undefined && typeof options.onComplete !== "function") {
    throw new DefinitionError(`workflow "${name}": onComplete must be a function`);
  }
  const maxStepsInFlight = options.maxStepsInFlight ?? DEFAULT_MAX_STEPS_IN_FLIGHT;
  if (!Number.isInteger(maxStepsInFlight) || maxStepsInFlight < 1) {
    throw new DefinitionError(`workflow "${name}": maxStepsInFlight must be an integer >= 1, got ${maxStepsInFlight}`);
  }
  const def = {
    name,
    handler: options.handler,
    onComplete: options.onComplete,
    maxStepsInFlight,
    [WORKFLOW_BRAND]: true,
  };
  return Object.freeze(def);
}

export function isWorkflowDefinition(value: unknown): value is WorkflowDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[WORKFLOW_BRAND] === true;
}
