// A coalescing wake-up: any number of wake() calls between two waits release one wait. Waiters
// also wake after the safety-poll interval, so a lost notice delays work but never strands it.
export class WakeSignal {
  private pending = false;
  private waiters: Array<() => void> = [];

  wake(): void {
    this.pending = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Resolves at the next wake (at once if one is pending) with true, or after `timeoutMs` with
   * false.
   */
  wait(timeoutMs: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(done);
    });
  }
}
