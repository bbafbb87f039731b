// The one error family workflow and step authors see. Every class has a stable `name` that survives
// the wire (a Failure carries the name), so code branches on `name` or `instanceof`, never on text.

/** A failure as it travels between processes: the error's class name, message and optional data. */
export interface Failure {
  name: string;
  message: string;
  stack?: string;
  /** JSON-serialisable data the error carried (e.g. `{ retryAfterMs }` for a RateLimitError). */
  details?: unknown;
}

/** The serialisable part of a failure that workflow code sees (no stack). */
export interface FailureInfo {
  name: string;
  message: string;
}

/** Base class of every Weft error. */
export class WeftError extends Error {
  override name: string = "WeftError";
  /** JSON-serialisable data carried across the wire by `toFailure`. */
  get details(): unknown {
    return undefined;
  }
}

/** Thrown by a step handler: do not retry this attempt, fail the step now. */
export class NonRetryableError extends WeftError {
  override name = "NonRetryableError";
}

/**
 * Thrown by a step handler when a downstream API rate-limits it. Executors pause the handler on
 * every executor for `retryAfterMs`; the attempt is not counted.
 */
export class RateLimitError extends WeftError {
  override name = "RateLimitError";
  readonly retryAfterMs: number;
  constructor(message: string, options: { retryAfterMs: number }) {
    super(message);
    if (!Number.isFinite(options.retryAfterMs) || options.retryAfterMs < 0) {
      throw new RangeError(`RateLimitError: retryAfterMs must be a finite number >= 0, got ${options.retryAfterMs}`);
    }
    this.retryAfterMs = options.retryAfterMs;
  }
  override get details(): unknown {
    return { retryAfterMs: this.retryAfterMs };
  }
}

/** The workflow code no longer matches the run's journal (a step call differs from the recorded one). */
export class NonDeterminismError extends WeftError {
  override name = "NonDeterminismError";
}

/** A step exceeded its `timeoutMs`, or an `awaitEvent` wait passed its timeout. */
export class TimeoutError extends WeftError {
  override name = "TimeoutError";
}

/** The run (or the awaited child run) was canceled. */
export class CanceledError extends WeftError {
  override name = "CanceledError";
}

/**
 * What a failed step's promise rejects with inside workflow code. `failure` is the error the step
 * handler finally failed with (after retries), e.g. `{ name: "NonRetryableError", message }`.
 */
export class StepFailedError extends WeftError {
  override name = "StepFailedError";
  readonly stepName: string;
  readonly seq: number;
  readonly failure: FailureInfo;
  constructor(stepName: string, seq: number, failure: FailureInfo) {
    super(`step ${seq} "${stepName}" failed: ${failure.name}: ${failure.message}`);
    this.stepName = stepName;
    this.seq = seq;
    this.failure = { name: failure.name, message: failure.message };
  }
  override get details(): unknown {
    return { stepName: this.stepName, seq: this.seq, failure: this.failure };
  }
}

/** What `ctx.child(...)` rejects with when the child run failed or was canceled. */
export class ChildWorkflowFailedError extends WeftError {
  override name = "ChildWorkflowFailedError";
  readonly workflowName: string;
  readonly childRunId: string | undefined;
  readonly failure: FailureInfo;
  constructor(workflowName: string, childRunId: string | undefined, failure: FailureInfo) {
    super(
      `child workflow "${workflowName}"${childRunId ? ` (${childRunId})` : ""} failed: ${failure.name}: ${failure.message}`,
    );
    this.workflowName = workflowName;
    this.childRunId = childRunId;
    this.failure = { name: failure.name, message: failure.message };
  }
  override get details(): unknown {
    return { workflowName: this.workflowName, childRunId: this.childRunId, failure: this.failure };
  }
}

/** What the client's `result()` rejects with when the run failed. */
export class WorkflowFailedError extends WeftError {
  override name = "WorkflowFailedError";
  readonly runId: string;
  readonly failure: FailureInfo;
  constructor(runId: string, failure: FailureInfo) {
    super(`run ${runId} failed: ${failure.name}: ${failure.message}`);
    this.runId = runId;
    this.failure = { name: failure.name, message: failure.message };
  }
}

/** Two workflows or two steps registered under one name in `defineApp`. */
export class DuplicateNameError extends WeftError {
  override name = "DuplicateNameError";
  readonly kind: "workflow" | "step";
  readonly duplicateName: string;
  constructor(kind: "workflow" | "step", duplicateName: string) {
    super(`${kind} name "${duplicateName}" is registered twice; ${kind} names must be unique in an app`);
    this.kind = kind;
    this.duplicateName = duplicateName;
  }
}

/** A definition (step, workflow, app, retry policy) has an invalid field; the message names it. */
export class DefinitionError extends WeftError {
  override name = "DefinitionError";
}

/** `loadApp` could not load an App from the given module. */
export class AppLoadError extends WeftError {
  override name = "AppLoadError";
}

/** Converts anything thrown into a Failure (for the journal). Non-errors become `{ name: "Error" }`. */
export function toFailure(err: unknown): Failure {
  if (err instanceof Error) {
    const failure: Failure = { name: err.name || "Error", message: err.message };
    if (err.stack) failure.stack = err.stack;
    const details = err instanceof WeftError ? err.details : undefined;
    if (details !== undefined) failure.details = details;
    return failure;
  }
  if (typeof err === "object" && err !== null && typeof (err as Failure).name === "string") {
    const f = err as Partial<Failure>;
    return { name: f.name ?? "Error", message: typeof f.message === "string" ? f.message : String(f.message ?? "") };
  }
  return { name: "Error", message: typeof err === "string" ? err : safeString(err) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function detailsRecord(details: unknown): Record<string, unknown> {
  return typeof details === "object" && details !== null ? (details as Record<string, unknown>) : {};
}

/**
 * Rebuilds an error from a Failure: a known Weft name gives that class (so `instanceof` works);
 * any other name gives a plain Error whose `name` is the failure's name. The stack is kept.
 */
export function failureToError(f: Failure): Error {
  const d = detailsRecord(f.details);
  const info = (v: unknown): FailureInfo => {
    const r = detailsRecord(v);
    return { name: String(r.name ?? "Error"), message: String(r.message ?? "") };
  };
  let err: Error;
  switch (f.name) {
    case "NonRetryableError":
      err = new NonRetryableError(f.message);
      break;
    case "RateLimitError": {
      const retryAfterMs = typeof d.retryAfterMs === "number" && d.retryAfterMs >= 0 ? d.retryAfterMs : 0;
      err = new RateLimitError(f.message, { retryAfterMs });
      break;
    }
    case "NonDeterminismError":
      err = new NonDeterminismError(f.message);
      break;
    case "TimeoutError":
      err = new TimeoutError(f.message);
      break;
    case "CanceledError":
      err = new CanceledError(f.message);
      break;
    case "StepFailedError":
      err = new StepFailedError(String(d.stepName ?? ""), Number(d.seq ?? 0), info(d.failure));
      err.message = f.message;
      break;
    case "ChildWorkflowFailedError":
      err = new ChildWorkflowFailedError(
        String(d.workflowName ?? ""),
        typeof d.childRunId === "string" ? d.childRunId : undefined,
        info(d.failure),
      );
      err.message = f.message;
      break;
    case "DuplicateNameError":
    case "DefinitionError":
    case "AppLoadError":
    case "WeftError":
      err = new WeftError(f.message);
      err.name = f.name;
      break;
    default:
      err = new Error(f.message);
      err.name = f.name || "Error";
  }
  if (f.stack) err.stack = f.stack;
  return err;
}
