// The tasks this executor holds unacked, from receipt until their result is durable (ack) or they
// are given back (nak). Holding them is what makes them invisible to other executors, so a sweep
// keeps them alive: `working()` resets JetStream's ack_wait, and a batched HeartbeatSteps tells the
// journal's sweeper the steps are not lost (and tells us which steps no longer need running).
import type { JsMsg } from "@nats-io/jetstream";
import type { StepTask } from "@weft/contracts";
import type { Logger } from "@weft/runtime";

/** Abort reason when the journal reports the step finished (canceled, stale): stop and ack. */
export const STEP_FINISHED = "step-finished";
/** Abort reason when the drain deadline passed: stop and give the task back. */
export const DRAIN_DEADLINE = "drain-deadline";

export interface HeldTask {
  readonly msg: JsMsg;
  readonly task: StepTask;
  readonly bytes: number;
  readonly receivedAt: number;
  lastWorkingAt: number;
  /** Aborted with STEP_FINISHED or DRAIN_DEADLINE; the handler's signal follows it. */
  readonly controller: AbortController;
}

export interface HeldTasksOptions {
  keepAliveMs: number;
  logger: Logger;
  /** Sends HeartbeatSteps; resolves with the ids of steps no longer running. */
  heartbeat(stepIds: string[]): Promise<string[]>;
}

const HEARTBEAT_CHUNK = 2_000;

export class HeldTasks {
  private readonly tasks = new Set<HeldTask>();
  private heldBytes = 0;
  private readonly changeWaiters = new Set<() => void>();
  private readonly removeListeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private heartbeating = false;
  private keepAliveMs: number;
  private readonly options: HeldTasksOptions;

  constructor(options: HeldTasksOptions) {
    this.options = options;
    this.keepAliveMs = options.keepAliveMs;
  }

  get count(): number {
    return this.tasks.size;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  add(msg: JsMsg, task: StepTask): HeldTask {
    const now = Date.now();
    const held: HeldTask = {
      msg,
      task,
      bytes: msg.data.length,
      receivedAt: now,
      lastWorkingAt: now,
      controller: new AbortController(),
    };
    this.tasks.add(held);
    this.heldBytes += held.bytes;
    return held;
  }

  /** The result is durable (or the step is known finished): remove the task from the stream. */
  ack(held: HeldTask): void {
    if (!this.remove(held)) return;
    held.msg.ack();
  }

  /** Give the task back for redelivery now (to this or another executor). */
  release(held: HeldTask): void {
    if (!this.remove(held)) return;
    held.msg.nak();
  }

  /** Gives back every task still held (shutdown after the drain deadline). */
  releaseAll(): number {
    const all = [...this.tasks];
    for (const held of all) this.release(held);
    return all.length;
  }

  /** Aborts every running handler with `reason` (results already buffered are unaffected). */
  abortAll(reason: string): void {
    for (const held of this.tasks) held.controller.abort(reason);
  }

  /** Calls `fn` after every ack or release. */
  onRemove(fn: () => void): void {
    this.removeListeners.push(fn);
  }

  /** Resolves on the next ack or release (or at once if `signal` is aborted). */
  changed(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.changeWaiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.changeWaiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  start(): void {
    clearInterval(this.timer);
    const period = Math.max(50, Math.floor(this.keepAliveMs / 2));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  /**
   * A consumer's ack_wait is shorter than the keep-alive assumes: keep tasks alive at a third of
   * it (a sweep every half keep-alive calls `working()` at most ~1.5 keep-alives apart).
   */
  fitAckWait(ackWaitMs: number): void {
    const fitted = Math.max(100, Math.floor(ackWaitMs / 3));
    if (fitted >= this.keepAliveMs) return;
    this.options.logger.info({ ackWaitMs, keepAliveMs: fitted }, "keep-alive shortened to the consumer's ack_wait");
    this.keepAliveMs = fitted;
    if (this.timer) this.start();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One keep-alive pass; public for tests. */
  sweep(now = Date.now()): void {
    const { keepAliveMs } = this;
    const old: HeldTask[] = [];
    for (const held of this.tasks) {
      if (now - held.lastWorkingAt >= keepAliveMs) {
        held.msg.working();
        held.lastWorkingAt = now;
      }
      if (now - held.receivedAt >= keepAliveMs) old.push(held);
    }
    if (old.length > 0 && !this.heartbeating) void this.heartbeat(old);
  }

  private async heartbeat(old: HeldTask[]): Promise<void> {
    this.heartbeating = true;
    try {
      for (let i = 0; i < old.length; i += HEARTBEAT_CHUNK) {
        const chunk = old.slice(i, i + HEARTBEAT_CHUNK);
        const finished = new Set(await this.options.heartbeat(chunk.map((h) => h.task.stepId)));
        for (const held of chunk) {
          if (finished.has(held.task.stepId)) held.controller.abort(STEP_FINISHED);
        }
      }
    } catch (err) {
      // The next sweep tries again; the sweeper may republish meanwhile, which is harmless.
      this.options.logger.warn({ err }, "step heartbeat failed");
    } finally {
      this.heartbeating = false;
    }
  }

  private remove(held: HeldTask): boolean {
    if (!this.tasks.delete(held)) return false;
    this.heldBytes -= held.bytes;
    for (const wake of [...this.changeWaiters]) wake();
    for (const fn of this.removeListeners) fn();
    return true;
  }
}
