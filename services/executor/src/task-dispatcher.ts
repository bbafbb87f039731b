// The life of one task message: decode, hold, run the step, hand the result to the flusher (which
// acks after recording). Abandoned tasks go back to the stream: at the drain deadline (nak, for
// redelivery) or when the journal said the step finished (ack, nothing to record). Each task runs
// under its execution span (tracing.ts), ended when the outcome is known.
import { fromBinary } from "@bufbuild/protobuf";
import type { JsMsg } from "@nats-io/jetstream";
import { type SpanContext, SpanStatusCode } from "@opentelemetry/api";
import { StepTaskSchema } from "@weft/contracts";
import type { Logger } from "@weft/runtime";
import type { ResultFlusher } from "./flush.ts";
import { type HeldTasks, STEP_FINISHED } from "./held-tasks.ts";
import { type ExecutorMetrics, stepSeries } from "./metrics.ts";
import type { StepRunner } from "./step-runner.ts";
import { failSpan, startExecutionSpan } from "./tracing.ts";

export interface TaskDispatcherOptions {
  held: HeldTasks;
  runner: StepRunner;
  flusher: ResultFlusher;
  logger: Logger;
  /** Called after each handler ends (its slot is free). */
  onHandlerDone?: () => void;
  metrics?: ExecutorMetrics;
}

export class TaskDispatcher {
  private running = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly options: TaskDispatcherOptions;
  readonly stats = { delivered: 0, malformed: 0, abandoned: 0 };

  constructor(options: TaskDispatcherOptions) {
    this.options = options;
  }

  /** Handlers running now. */
  get active(): number {
    return this.running;
  }

  /** Takes a received message; `receive` is the span of the pull that brought it (linked). */
  deliver(msg: JsMsg, receive?: SpanContext): void {
    const { held, runner, flusher, logger, metrics } = this.options;
    this.stats.delivered++;
    let task: ReturnType<typeof fromBinary<typeof StepTaskSchema>>;
    try {
      task = fromBinary(StepTaskSchema, msg.data);
    } catch (err) {
      // Nothing can ever run it, and redelivering it forever would only hide the bug.
      this.stats.malformed++;
      logger.error({ err, subject: msg.subject, seq: msg.seq }, "dropping malformed task message");
      msg.term();
      return;
    }
    const span = startExecutionSpan(msg, task, receive);
    const entry = held.add(msg, task);
    const series = metrics ? stepSeries(metrics, runner.label(task)) : undefined;
    series?.started.inc();
    const startedAt = performance.now();
    this.running++;
    runner
      .run(task, entry.controller.signal, span, series)
      .then(
        (outcome) => {
          if (outcome.kind === "result") {
            const failed = outcome.result.outcome.case === "failure";
            if (series) {
              series.seconds.observe((performance.now() - startedAt) / 1000);
              if (failed) {
                series.failedFinish.inc();
                series.failed.inc();
              } else series.completed.inc();
            }
            if (span.isRecording()) {
              span.setAttribute("weft.step.attempt", outcome.result.attempt);
              if (failed) {
                const f = outcome.result.outcome.value as { name: string; message: string };
                span.setStatus({ code: SpanStatusCode.ERROR, message: `${f.name}: ${f.message}` });
              }
            }
            span.end();
            flusher.add(entry, outcome.result);
            return;
          }
          this.stats.abandoned++;
          series?.abandoned.inc();
          span.addEvent("abandoned", { "weft.abandon.reason": String(outcome.reason) });
          span.end();
          if (outcome.reason === STEP_FINISHED) {
            held.ack(entry);
            metrics?.acks.inc();
          } else held.release(entry);
        },
        (err: unknown) => {
          // The runner turns every handler error into a result; this is a bug in the executor.
          logger.error({ err, stepId: task.stepId }, "step runner failed; giving the task back");
          failSpan(span, err);
          span.end();
          held.release(entry);
        },
      )
      .finally(() => {
        this.running--;
        this.options.onHandlerDone?.();
        if (this.running === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
  }

  /** Resolves when no handler is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
