// Admission control for fetching: shard consumers reserve room before each pull, so the tasks
// held (running, or waiting for their result to be flushed) stay within the concurrency limit,
// and no pull starts while held task bytes or the heap are over their limits.
import { getHeapStatistics } from "node:v8";
import type { HeldTasks } from "./held-tasks.ts";

export interface BackpressureLimits {
  concurrency: number;
  maxInflightBytes: number;
  maxHeapBytes: number;
}

export type PauseReason = "concurrency" | "bytes" | "heap";

export class Backpressure {
  private reserved = 0;
  private readonly held: HeldTasks;
  private readonly limits: BackpressureLimits;
  private readonly heapUsed: () => number;
  /** How often each reason paused a pull (for metrics and tests). */
  readonly pauses: Record<PauseReason, number> = { concurrency: 0, bytes: 0, heap: 0 };

  private readonly waiters = new Set<() => void>();

  constructor(held: HeldTasks, limits: BackpressureLimits, heapUsed = () => getHeapStatistics().used_heap_size) {
    this.held = held;
    this.limits = limits;
    this.heapUsed = heapUsed;
    held.onRemove(() => this.wake());
  }

  /** Why a pull may not start now, or undefined when it may. */
  blocked(): PauseReason | undefined {
    const { concurrency, maxInflightBytes, maxHeapBytes } = this.limits;
    if (this.held.count + this.reserved >= concurrency) return "concurrency";
    // With nothing held, memory cannot be freed by waiting: always let work in so we make progress.
    if (this.held.count === 0) return undefined;
    if (this.held.bytes >= maxInflightBytes) return "bytes";
    if (this.heapUsed() >= maxHeapBytes) return "heap";
    return undefined;
  }

  /**
   * Waits until a pull may start and reserves room for up to `want` tasks; returns the number
   * reserved (at least 1), or 0 if `signal` aborted first.
   */
  async reserve(want: number, signal: AbortSignal): Promise<number> {
    for (;;) {
      if (signal.aborted) return 0;
      const reason = this.blocked();
      if (reason === undefined) {
        const room = this.limits.concurrency - this.held.count - this.reserved;
        const granted = Math.max(1, Math.min(want, room));
        this.reserved += granted;
        return granted;
      }
      this.pauses[reason]++;
      await this.nextChange(signal);
    }
  }

  /** A reserved slot was filled by a received message (held from now on) or given back. */
  consume(n = 1): void {
    this.reserved = Math.max(0, this.reserved - n);
  }

  /** Unused reservations go back; waiting pulls re-check. */
  unreserve(n: number): void {
    if (n <= 0) return;
    this.reserved = Math.max(0, this.reserved - n);
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  private nextChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
