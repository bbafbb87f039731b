// Runs one task's handler to an outcome: the step's handler (or the workflow's onComplete hook
// for ON_COMPLETE tasks) with its retry policy, per-attempt timeout and the shared rate-limit
// pauses. Every path ends in a result to record, except an external abort (drain deadline, or
// the journal saying the step finished), which abandons the task. The handler runs inside the
// execution span; a failed attempt is an `exception` event on it, a retry a `retry` event with its
// backoff, each later attempt an `attempt` event, and rate-limit pauses events with their delays:
// a step that succeeds at once costs its execution span alone.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { context, type Span, trace } from "@opentelemetry/api";
import {
  decodePayload,
  encodePayload,
  type Failure,
  FailureSchema,
  StepKind,
  type StepResult,
  StepResultSchema,
  type StepTask,
  toTimestamp,
} from "@weft/contracts";
import type { Logger } from "@weft/runtime";
import {
  type App,
  backoffMs,
  DEFAULT_RETRY_POLICY,
  NonRetryableError,
  type RetryPolicy,
  type StepContext,
  TimeoutError,
  toFailure,
} from "@weft/sdk";
import type { StepSeries } from "./metrics.ts";
import type { RateLimits } from "./rate-limits.ts";
import { NO_SPAN, recordAttemptFailure, traceparentOf } from "./tracing.ts";

export type StepOutcome = { kind: "result"; result: StepResult } | { kind: "abandoned"; reason: unknown };

interface Runnable {
  name: string;
  handler: (args: unknown, ctx: StepContext) => unknown;
  retry: RetryPolicy;
  timeoutMs: number | undefined;
}

export interface StepRunnerOptions {
  app: App;
  rateLimits: RateLimits;
  logger: Logger;
  /** For tests: the jitter source of the backoff. */
  random?: () => number;
}

/** Metric label of steps this executor cannot run (bounded label values). */
export const UNKNOWN_STEP = "(unknown)";

export class StepRunner {
  private readonly options: StepRunnerOptions;

  constructor(options: StepRunnerOptions) {
    this.options = options;
  }

  /** The step name for metrics: a registered step, `<workflow>.onComplete`, or UNKNOWN_STEP. */
  label(task: StepTask): string {
    const r = this.resolve(task);
    return r instanceof Error ? UNKNOWN_STEP : r.name;
  }

  /**
   * `signal` aborts from outside (drain deadline, step finished): the outcome is then "abandoned".
   * `span` is the execution span: the handler runs in it, attempts are its events, the result
   * carries its traceparent.
   * `series`: the step's metrics (attempts, retries, rate-limit pauses).
   */
  async run(
    task: StepTask,
    signal: AbortSignal,
    span: Span = NO_SPAN,
    series?: Pick<StepSeries, "attempts" | "retries" | "rateLimitPauses">,
  ): Promise<StepOutcome> {
    const startedAt = Date.now();
    const traceparent = traceparentOf(span);
    const finish = (attempt: number, outcome: StepResult["outcome"]): StepOutcome => ({
      kind: "result",
      result: create(StepResultSchema, {
        stepId: task.stepId,
        runId: task.runId,
        generation: task.generation,
        attempt,
        outcome,
        startedAt: toTimestamp(startedAt),
        finishedAt: toTimestamp(Date.now()),
        traceparent,
      }),
    });
    const fail = (attempt: number, err: unknown) => finish(attempt, { case: "failure", value: failureOf(err) });

    const runnable = this.resolve(task);
    if (runnable instanceof Error) return fail(1, runnable);
    let args: unknown;
    try {
      args = decodePayload(task.args);
    } catch (err) {
      return fail(1, new NonRetryableError(`step "${task.stepName}": invalid args: ${(err as Error).message}`));
    }

    const { rateLimits, random } = this.options;
    const recording = span.isRecording();
    const parent = recording ? trace.setSpan(context.active(), span) : undefined;
    for (let attempt = 1; ; ) {
      try {
        if (recording) {
          const until = rateLimits.pausedUntil(runnable.name);
          if (until !== undefined) {
            span.addEvent("rate-limit pause", { "weft.pause_ms": until - Date.now(), "weft.step.attempt": attempt });
          }
        }
        await rateLimits.waitUntilOpen(runnable.name, signal);
      } catch {
        return { kind: "abandoned", reason: signal.reason };
      }
      if (signal.aborted) return { kind: "abandoned", reason: signal.reason };
      series?.attempts.inc();
      if (recording && attempt > 1) span.addEvent("attempt", { "weft.step.attempt": attempt });
      try {
        const ctx = contextOf(task, attempt);
        const value = parent
          ? await context.with(parent, () => runAttempt(runnable, args, ctx, signal))
          : await runAttempt(runnable, args, ctx, signal);
        let payload: Uint8Array;
        try {
          payload = encodePayload(value);
        } catch (err) {
          return fail(
            attempt,
            new NonRetryableError(`step "${runnable.name}": result is not JSON: ${(err as Error).message}`),
          );
        }
        return finish(attempt, { case: "result", value: payload });
      } catch (err) {
        if (signal.aborted) return { kind: "abandoned", reason: signal.reason };
        const retryAfterMs = rateLimitOf(err);
        if (retryAfterMs !== undefined) {
          series?.rateLimitPauses.inc();
          span.addEvent("rate-limited", { "weft.step.attempt": attempt, "weft.retry_after_ms": retryAfterMs });
          rateLimits.report(runnable.name, retryAfterMs);
          continue; // not counted
        }
        if (recording) recordAttemptFailure(span, err, attempt);
        if (isNonRetryable(err) || attempt >= runnable.retry.maxAttempts) return fail(attempt, err);
        const delay = backoffMs(runnable.retry, attempt, random);
        series?.retries.inc();
        span.addEvent("retry", {
          "weft.step.attempt": attempt,
          "weft.retry.backoff_ms": Math.round(delay),
          "exception.type": err instanceof Error ? err.name : typeof err,
          "exception.message": err instanceof Error ? err.message : String(err),
        });
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return { kind: "abandoned", reason: signal.reason };
        }
        attempt++;
      }
    }
  }

  private resolve(task: StepTask): Runnable | Error {
    const { app } = this.options;
    if (task.kind === StepKind.ON_COMPLETE) {
      const workflow = app.workflows.get(task.workflowName);
      const hook = workflow?.onComplete;
      if (!hook) {
        return new NonRetryableError(
          `workflow "${task.workflowName}" has no onComplete hook in this executor's app (version "${app.version}")`,
        );
      }
      // The hook reacts to the outcome; it retries like a mutation (the default policy).
      return {
        // The journal names every hook step "onComplete": pause (rate limits) per workflow instead.
        name: `${task.workflowName}.onComplete`,
        handler: (args, ctx) => hook(args as never, ctx),
        retry: DEFAULT_RETRY_POLICY,
        timeoutMs: undefined,
      };
    }
    const step = app.steps.get(task.stepName);
    if (!step) {
      return new NonRetryableError(
        `unknown step "${task.stepName}" (not in this executor's app, version "${app.version}")`,
      );
    }
    return { name: step.name, handler: step.handler, retry: step.retry, timeoutMs: step.timeoutMs };
  }
}

function contextOf(task: StepTask, attempt: number) {
  return { stepId: task.stepId, runId: task.runId, workflowName: task.workflowName, seq: task.seq, attempt };
}

/**
 * One attempt: the handler races its signal, which aborts on the timeout or from outside. Without
 * a timeout the handler gets the task's own signal (no controller, one listener per attempt).
 */
function runAttempt(
  runnable: Runnable,
  args: unknown,
  base: Omit<StepContext, "signal">,
  outer: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let signal = outer;
    let timer: NodeJS.Timeout | undefined;
    let onOuter: (() => void) | undefined;
    if (runnable.timeoutMs !== undefined) {
      const controller = new AbortController();
      onOuter = () => controller.abort(outer.reason);
      outer.addEventListener("abort", onOuter, { once: true });
      timer = setTimeout(
        () => controller.abort(new TimeoutError(`step "${runnable.name}" timed out after ${runnable.timeoutMs} ms`)),
        runnable.timeoutMs,
      );
      signal = controller.signal;
    }
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      if (onOuter) outer.removeEventListener("abort", onOuter);
      signal.removeEventListener("abort", onAbort);
      return true;
    };
    // A handler that ignores its signal keeps running in the background; its outcome is dropped.
    const onAbort = () => {
      if (settle()) reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const ctx: StepContext = { ...base, signal };
    let value: unknown;
    try {
      value = runnable.handler(args, ctx);
    } catch (err) {
      if (settle()) reject(err);
      return;
    }
    Promise.resolve(value).then(
      (v) => {
        if (settle()) resolve(v);
      },
      (err: unknown) => {
        if (settle()) reject(err);
      },
    );
  });
}

// Branch on the stable error names, so errors from another copy of the SDK are recognised too.
function isNonRetryable(err: unknown): boolean {
  return err instanceof NonRetryableError || (err instanceof Error && err.name === "NonRetryableError");
}

function rateLimitOf(err: unknown): number | undefined {
  if (!(err instanceof Error) || err.name !== "RateLimitError") return undefined;
  const ms = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms : 0;
}

function failureOf(err: unknown): Failure {
  const f = toFailure(err);
  let details: Uint8Array = new Uint8Array(0);
  if (f.details !== undefined) {
    try {
      details = encodePayload(f.details);
    } catch {
      // details that are not JSON are dropped; name and message still say what happened
    }
  }
  return create(FailureSchema, { name: f.name, message: f.message, stack: f.stack ?? "", details });
}
