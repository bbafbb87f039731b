// The tasks this executor holds unacked, from receipt until their result is durable (ack) or they
// are given back (nak). Holding them is what makes them invisible to other executors, so a sweep
// keeps them alive: `working()` resets JetStream's ack_wait, and a batched HeartbeatSteps tells the
// journal's sweeper the steps are not lost (and tells us which steps no longer need running).
// The two have their own clocks: `working()` at the keep-alive (a third of the consumer's
// ack_wait at most), a step's heartbeat a third of the journal's dispatch timeout after it was
// dispatched or last heartbeated. Each heartbeat is an update of the step's row, so steps that
// end well within the timeout (most) never send one.
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
  lastWorkingAt: number;
  /** When the journal last heard of the step: its dispatch (the message's publish), then each heartbeat. */
  lastHeartbeatAt: number;
  /** Aborted with STEP_FINISHED or DRAIN_DEADLINE; the handler's signal follows it. */
  readonly controller: AbortController;
}

export interface HeldTasksOptions {
  /** `working()` cadence, and the heartbeat's until `fitDispatchTimeout`. */
  keepAliveMs: number;
  logger: Logger;
  /** Sends HeartbeatSteps; resolves with the ids of steps no longer running. */
  heartbeat(stepIds: string[]): Promise<string[]>;
}

const HEARTBEAT_CHUNK = 2_000;

export class HeldTasks {
  private readonly tasks = new Set<HeldTask>();
  /** The held tasks of each run, for the journal's notices of ended runs. */
  private readonly byRun = new Map<string, Set<HeldTask>>();
  private heldBytes = 0;
  private readonly changeWaiters = new Set<() => void>();
  private readonly removeListeners: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private heartbeating = false;
  private keepAliveMs: number;
  /** Per-step heartbeat cadence fitted to the journal's dispatch timeout; unset, the keep-alive. */
  private fittedHeartbeatMs: number | undefined;
  private readonly options: HeldTasksOptions;

  constructor(options: HeldTasksOptions) {
    this.options = options;
    this.keepAliveMs = options.keepAliveMs;
  }

  private get heartbeatMs(): number {
    return this.fittedHeartbeatMs ?? this.keepAliveMs;
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
      lastWorkingAt: now,
      // The journal's dispatch clock started at the publish: a task that waited in the stream
      // has used part of its timeout already.
      lastHeartbeatAt: Math.min(now, publishedAt(msg) ?? now),
      controller: new AbortController(),
    };
    this.tasks.add(held);
    this.heldBytes += held.bytes;
    let ofRun = this.byRun.get(task.runId);
    if (!ofRun) {
      ofRun = new Set();
      this.byRun.set(task.runId, ofRun);
    }
    ofRun.add(held);
    return held;
  }

  /**
   * The journal ended these runs (a completion, a failure, a cancel; its notices name runs, not
   * steps or generations): asks it at once, with one HeartbeatSteps call, which of the held steps
   * of those runs are finished, and aborts those (STEP_FINISHED: acked unrecorded), rather than at
   * their next heartbeat. The journal's answer is what decides: a task of a generation a reset
   * started after the end, or an ON_COMPLETE task the end made, keeps running. A failed call
   * leaves it to the next heartbeat. Returns how many handlers were aborted.
   */
  async runsEnded(runIds: Iterable<string>, now = Date.now()): Promise<number> {
    const candidates: HeldTask[] = [];
    for (const runId of runIds) {
      for (const held of this.byRun.get(runId) ?? []) {
        if (!held.controller.signal.aborted) candidates.push(held);
      }
    }
    if (candidates.length === 0) return 0;
    try {
      return await this.heartbeat(candidates, now);
    } catch (err) {
      this.options.logger.warn({ err }, "checking the steps of ended runs failed; their next heartbeat will");
      return 0;
    }
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
    const period = Math.max(50, Math.floor(Math.min(this.keepAliveMs, this.heartbeatMs) / 2));
    this.timer = setInterval(() => void this.sweep(), period);
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

  /**
   * The journal redispatches a running step after `dispatchTimeoutMs` without a result or a
   * heartbeat: heartbeat each step a third of that after its dispatch or last heartbeat (sweeps
   * at least every sixth, so at most half the timeout apart, plus the call).
   */
  fitDispatchTimeout(dispatchTimeoutMs: number): void {
    const fitted = Math.max(100, Math.floor(dispatchTimeoutMs / 3));
    if (fitted === this.fittedHeartbeatMs) return;
    this.options.logger.info(
      { dispatchTimeoutMs, heartbeatMs: fitted },
      "step heartbeats fitted to the dispatch timeout",
    );
    this.fittedHeartbeatMs = fitted;
    if (this.timer) this.start();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One keep-alive pass; public for tests. */
  async sweep(now = Date.now()): Promise<void> {
    const { keepAliveMs, heartbeatMs } = this;
    const due: HeldTask[] = [];
    for (const held of this.tasks) {
      if (now - held.lastWorkingAt >= keepAliveMs) {
        held.msg.working();
        held.lastWorkingAt = now;
      }
      if (now - held.lastHeartbeatAt >= heartbeatMs) due.push(held);
    }
    if (due.length === 0 || this.heartbeating) return;
    this.heartbeating = true;
    try {
      await this.heartbeat(due, now);
    } catch (err) {
      // The next sweep tries again; the sweeper may republish meanwhile, which is harmless.
      this.options.logger.warn({ err }, "step heartbeat failed");
    } finally {
      this.heartbeating = false;
    }
  }

  /**
   * HeartbeatSteps for these tasks, in chunks: each answered chunk restarts its tasks' heartbeat
   * clocks (a failed call leaves them, and throws), and the steps the journal reports finished
   * are aborted (STEP_FINISHED). Returns how many were aborted.
   */
  private async heartbeat(tasks: readonly HeldTask[], now: number): Promise<number> {
    let aborted = 0;
    for (let i = 0; i < tasks.length; i += HEARTBEAT_CHUNK) {
      const chunk = tasks.slice(i, i + HEARTBEAT_CHUNK);
      const finished = new Set(await this.options.heartbeat(chunk.map((h) => h.task.stepId)));
      for (const held of chunk) {
        held.lastHeartbeatAt = now;
        if (!finished.has(held.task.stepId) || held.controller.signal.aborted) continue;
        held.controller.abort(STEP_FINISHED);
        aborted++;
      }
    }
    return aborted;
  }

  private remove(held: HeldTask): boolean {
    if (!this.tasks.delete(held)) return false;
    this.heldBytes -= held.bytes;
    const ofRun = this.byRun.get(held.task.runId);
    ofRun?.delete(held);
    if (ofRun?.size === 0) this.byRun.delete(held.task.runId);
    for (const wake of [...this.changeWaiters]) wake();
    for (const fn of this.removeListeners) fn();
    return true;
  }
}

/** The message's publish time in ms (JetStream's stream timestamp), when it has one. */
function publishedAt(msg: JsMsg): number | undefined {
  try {
    const nanos = msg.info.timestampNanos;
    return nanos > 0 ? Math.floor(nanos / 1e6) : undefined;
  } catch {
    return undefined;
  }
}
