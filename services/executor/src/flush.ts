// The result buffer. Results are recorded with RecordResultBatch, opportunistically batched: with
// no call in flight a result goes at the end of the event-loop turn it arrived in (setImmediate,
// no timer), together with every other result of that turn (steps of one parallel fan-out that
// finish together); while calls are in flight results pile up and the next call carries them
// all. Batches are split by count and bytes; a second call starts only for a full batch. Tasks
// are acked only after their call returned; a failed call is retried with backoff until it
// succeeds or the executor stops (then the tasks stay unacked and are redelivered).
// Each batch is sent under a `flush` span (the RecordResultBatch client span and the ack batch are
// its children; the journal's span of the call links every execution the batch carries, from the
// results' traceparents); retries are its events.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { FailureSchema, type StepResult, StepResultSchema } from "@weft/contracts";
import type { Logger } from "@weft/runtime";
import { backoffMs, type RetryPolicy } from "@weft/sdk";
import type { HeldTask } from "./held-tasks.ts";
import type { ExecutorMetrics } from "./metrics.ts";
import { stepResultBytes } from "./result-size.ts";
import { failSpan, tracer } from "./tracing.ts";

export interface FlushEntry {
  readonly held: HeldTask;
  readonly result: StepResult;
  readonly bytes: number;
}

export interface ResultFlusherOptions {
  maxResults: number;
  maxBytes: number;
  /** Most calls in flight at once. */
  maxCalls: number;
  logger: Logger;
  /** Records the results (RecordResultBatch); throws when nothing was recorded. */
  record(results: StepResult[], signal: AbortSignal): Promise<void>;
  /** The call returned: every task of the batch may be acked. */
  recorded(entries: readonly FlushEntry[]): void;
  /** Backoff between attempts of a failed call. */
  retry?: RetryPolicy;
  /**
   * True when the journal rejected the batch's content (it would fail again however often it is
   * sent): the batch is bisected to find the offending result, which is replaced by a failure.
   */
  isRejection?(err: unknown): boolean;
  metrics?: Pick<ExecutorMetrics, "flushResults" | "flushBytes" | "flushSeconds" | "recordFailures">;
}

interface Entry extends FlushEntry {
  /** The result was already replaced by a ResultRejectedError once. */
  rejected?: boolean;
}

const CALL_RETRY: RetryPolicy = {
  maxAttempts: Number.POSITIVE_INFINITY,
  initialBackoffMs: 100,
  backoffCoefficient: 2,
  maxBackoffMs: 5_000,
};

// Field tag and length prefix of one `results` entry in the request.
const ENTRY_OVERHEAD = 6;

export class ResultFlusher {
  private buffer: FlushEntry[] = [];
  private bufferBytes = 0;
  private inFlight = 0;
  private readonly stopping = new AbortController();
  private idleWaiters: (() => void)[] = [];
  /** A pump is scheduled for the end of this event-loop turn. */
  private pumpScheduled = false;
  private readonly options: ResultFlusherOptions;
  readonly stats = { calls: 0, failedCalls: 0, results: 0 };

  constructor(options: ResultFlusherOptions) {
    this.options = options;
  }

  /** Results waiting or in flight. */
  get pending(): number {
    return this.buffer.length;
  }

  get callsInFlight(): number {
    return this.inFlight;
  }

  add(held: HeldTask, result: StepResult): void {
    let bytes = stepResultBytes(result) + ENTRY_OVERHEAD;
    if (bytes > this.options.maxBytes) {
      // One result that can never fit a batch would block its task forever: record why instead.
      const tooLarge = create(StepResultSchema, {
        ...result,
        outcome: {
          case: "failure",
          value: create(FailureSchema, {
            name: "ResultTooLargeError",
            message: `step result of ${bytes} bytes exceeds the flush limit of ${this.options.maxBytes} bytes (WEFT_FLUSH_MAX_BYTES)`,
          }),
        },
      });
      result = tooLarge;
      bytes = stepResultBytes(result) + ENTRY_OVERHEAD;
    }
    this.buffer.push({ held, result, bytes });
    this.bufferBytes += bytes;
    this.schedulePump();
  }

  /**
   * Sends at the end of this event-loop turn rather than at once: the results that handlers
   * finish in the same turn (a fan-out's steps, delivered in one fetch) go in one call, instead
   * of the first alone and the rest after it returns. Not a timer: the loop reaches its check
   * phase as soon as this turn's callbacks and microtasks are done.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /**
   * Waits until every buffered result is recorded and acked, at most `timeoutMs`; then stops
   * retrying. Returns true when everything was flushed.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (!this.isIdle()) {
      const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const timer = sleep(timeoutMs, undefined, { ref: false });
      await Promise.race([idle, timer]);
    }
    const flushed = this.isIdle();
    this.stopping.abort();
    return flushed;
  }

  private isIdle(): boolean {
    return this.buffer.length === 0 && this.inFlight === 0;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxCalls && this.buffer.length > 0 && !this.stopping.signal.aborted) {
      const full = this.buffer.length >= this.options.maxResults || this.bufferBytes >= this.options.maxBytes;
      // A partial batch waits for the call in flight: what piles up meanwhile rides the next call.
      if (this.inFlight > 0 && !full) break;
      const batch = this.takeBatch();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.isIdle()) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const w of waiters) w();
        }
      });
    }
  }

  private takeBatch(): FlushEntry[] {
    const { maxResults, maxBytes } = this.options;
    let n = 0;
    let bytes = 0;
    while (n < this.buffer.length && n < maxResults) {
      const next = this.buffer[n]!.bytes;
      if (n > 0 && bytes + next > maxBytes) break;
      bytes += next;
      n++;
    }
    const batch = this.buffer.slice(0, n);
    this.buffer = this.buffer.slice(n);
    this.bufferBytes -= bytes;
    return batch;
  }

  private async bisect(batch: Entry[], err: unknown): Promise<void> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.send(batch.slice(0, half));
      await this.send(batch.slice(half));
      return;
    }
    const entry = batch[0]!;
    const { logger } = this.options;
    if (entry.rejected) {
      // Not even a plain failure is accepted (e.g. a task with an invalid step id): nothing can
      // ever record it, so it is acked like a stale task.
      logger.error({ err, stepId: entry.result.stepId }, "journal rejects every outcome of this task; acking it");
      this.options.recorded([entry]);
      return;
    }
    logger.warn({ err, stepId: entry.result.stepId }, "journal rejected a step result; recording a failure instead");
    const result = create(StepResultSchema, {
      ...entry.result,
      outcome: {
        case: "failure",
        value: create(FailureSchema, {
          name: "ResultRejectedError",
          message: `the journal rejected the step's outcome: ${(err as Error).message}`,
        }),
      },
    });
    await this.send([{ held: entry.held, result, bytes: entry.bytes, rejected: true }]);
  }

  private async send(batch: Entry[]): Promise<void> {
    const signal = this.stopping.signal;
    const { metrics, logger } = this.options;
    const policy = this.options.retry ?? CALL_RETRY;
    const results = batch.map((e) => e.result);
    let bytes = 0;
    for (const e of batch) bytes += e.bytes;
    const span = tracer.startSpan(
      "flush",
      { attributes: { "weft.batch.size": batch.length, "weft.batch.bytes": bytes } },
      ROOT_CONTEXT,
    );
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    try {
      for (let attempt = 1; ; attempt++) {
        this.stats.calls++;
        const startedAt = performance.now();
        try {
          await context.with(ctx, () => this.options.record(results, signal));
          metrics?.flushSeconds.observe((performance.now() - startedAt) / 1000);
          metrics?.flushResults.observe(batch.length);
          metrics?.flushBytes.observe(bytes);
          this.stats.results += batch.length;
          context.with(ctx, () => this.options.recorded(batch));
          return;
        } catch (err) {
          this.stats.failedCalls++;
          metrics?.recordFailures.inc();
          if (signal.aborted) {
            // stopping: the tasks stay unacked and are redelivered
            span.addEvent("abandoned: executor stopping", { "weft.flush.attempt": attempt });
            failSpan(span, err);
            return;
          }
          if (this.options.isRejection?.(err)) {
            span.addEvent("rejected: bisecting", { "weft.flush.attempt": attempt });
            await context.with(ctx, () => this.bisect(batch, err));
            return;
          }
          const delay = backoffMs(policy, attempt);
          span.addEvent("retry", {
            "weft.flush.attempt": attempt,
            "weft.retry.backoff_ms": Math.round(delay),
            "exception.message": (err as Error).message,
          });
          context.with(ctx, () =>
            logger.warn(
              { err, results: batch.length, attempt, retryInMs: Math.round(delay) },
              "recording results failed; retrying",
            ),
          );
          try {
            await sleep(delay, undefined, { signal });
          } catch {
            return;
          }
        }
      }
    } finally {
      span.end();
    }
  }
}
