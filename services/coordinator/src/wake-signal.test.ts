import { describe, expect, it } from "vitest";
import { WakeSignal } from "./wake-signal.ts";

describe("WakeSignal", () => {
  it("releases a waiter at once when a wake is pending, and coalesces wakes", async () => {
    const signal = new WakeSignal();
    signal.wake();
    signal.wake();
    const started = performance.now();
    await signal.wait(10_000);
    expect(performance.now() - started).toBeLessThan(1_000);
    // Both wakes were consumed by one wait: the next wait runs into its timeout.
    const second = performance.now();
    await signal.wait(30);
    expect(performance.now() - second).toBeGreaterThanOrEqual(25);
  });

  it("releases every current waiter on wake", async () => {
    const signal = new WakeSignal();
    const waits = [signal.wait(10_000), signal.wait(10_000), signal.wait(10_000)];
    signal.wake();
    await expect(Promise.all(waits)).resolves.toHaveLength(3);
  });
});
