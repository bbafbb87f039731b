// Admission control for fetching: shard consumers reserve room before each pull, so running
// handlers stay within the concurrency limit, tasks held unacked (running, or waiting for their
// result to be flushed) within a multiple of it, and no pull starts while held task bytes or the
// heap are over their limits. Waiting pulls are served in arrival order, so a busy shard cannot
// starve the others.
import { getHeapStatistics } from "node:v8";
import type { HeldTasks } from "./held-tasks.ts";

export interface BackpressureLimits {
  /** Most handlers running at once. */
  concurrency: number;
  /** Most tasks held unacked (running or awaiting their flush). */
  maxHeld: number;
  maxInflightBytes: number;
  maxHeapBytes: number;
}

export type PauseReason = "concurrency" | "held" | "bytes" | "heap";

interface Waiter {
  want: number;
  resolve(granted: number): void;
  paused: boolean;
}

export class Backpressure {
  private reserved = 0;
  private readonly queue: Waiter[] = [];
  private readonly held: HeldTasks;
  private readonly limits: BackpressureLimits;
  private readonly heapUsed: () => number;
  /** How often each reason paused a pull (for metrics and tests). */
  readonly pauses: Record<PauseReason, number> = { concurrency: 0, held: 0, bytes: 0, heap: 0 };
  private readonly running: () => number;
  private readonly onPause: ((reason: PauseReason) => void) | undefined;

  /** `running`: handlers running now; call `handlerFinished()` whenever one ends. */
  constructor(
    held: HeldTasks,
    running: () => number,
    limits: BackpressureLimits,
    heapUsed = () => getHeapStatistics().used_heap_size,
    onPause?: (reason: PauseReason) => void,
  ) {
    this.onPause = onPause;
    this.held = held;
    this.running = running;
    this.limits = limits;
    this.heapUsed = heapUsed;
    held.onRemove(() => this.pump());
  }

  handlerFinished(): void {
    this.pump();
  }

  /** Why a pull may not start now, or undefined when it may. */
  blocked(): PauseReason | undefined {
    if (this.running() + this.reserved >= this.limits.concurrency) return "concurrency";
    if (this.held.count + this.reserved >= this.limits.maxHeld) return "held";
    const memory = this.memoryPressure();
    // With nothing held, waiting cannot free memory: let one task in at a time so we make progress.
    if (memory !== undefined && (this.held.count > 0 || this.reserved > 0)) return memory;
    return undefined;
  }

  /**
   * Waits until a pull may start and reserves room for up to `want` tasks; resolves with the
   * number reserved (at least 1), or 0 if `signal` aborted first.
   */
  reserve(want: number, signal: AbortSignal): Promise<number> {
    if (signal.aborted) return Promise.resolve(0);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        want,
        paused: false,
        resolve: (granted) => {
          signal.removeEventListener("abort", onAbort);
          resolve(granted);
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        resolve(0);
        this.pump();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
    });
  }

  /** A reserved slot was filled by a received message (held from now on). */
  consume(n = 1): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  /** Unused reservations go back; waiting pulls re-check. */
  unreserve(n: number): void {
    if (n <= 0) return;
    this.reserved = Math.max(0, this.reserved - n);
    this.pump();
  }

  private pump(): void {
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      const reason = this.blocked();
      if (reason !== undefined) {
        if (!head.paused) {
          this.pauses[reason]++;
          this.onPause?.(reason);
        }
        head.paused = true;
        return;
      }
      this.queue.shift();
      const room = this.memoryPressure()
        ? 1
        : Math.min(
            this.limits.concurrency - this.running() - this.reserved,
            this.limits.maxHeld - this.held.count - this.reserved,
          );
      const granted = Math.max(1, Math.min(head.want, room));
      this.reserved += granted;
      head.resolve(granted);
    }
  }

  private memoryPressure(): PauseReason | undefined {
    if (this.held.bytes >= this.limits.maxInflightBytes) return "bytes";
    if (this.heapUsed() >= this.limits.maxHeapBytes) return "heap";
    return undefined;
  }
}
