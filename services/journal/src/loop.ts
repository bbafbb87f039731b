// A background loop that runs one pass at a time and sleeps between passes until a due time or a
// poke; stop() waits for the pass in flight.
import type { Logger } from "@weft/runtime";

export interface PassResult {
  /** When to run the next pass, in ms from now. */
  nextInMs: number;
}

export class BackgroundLoop {
  private readonly name: string;
  private readonly pass: () => Promise<PassResult>;
  private readonly logger: Logger;
  private readonly errorBackoffMs: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private current: Promise<void> | undefined;
  private pokedDuringPass = false;

  constructor(name: string, pass: () => Promise<PassResult>, logger: Logger, errorBackoffMs = 1000) {
    this.name = name;
    this.pass = pass;
    this.logger = logger;
    this.errorBackoffMs = errorBackoffMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Runs a pass no later than `delayMs` from now (earlier schedules win). */
  pokeIn(delayMs: number): void {
    if (!this.running) return;
    if (this.current) {
      this.pokedDuringPass = true;
      if (delayMs <= 0) return;
    }
    this.schedule(delayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  private schedule(delayMs: number): void {
    const at = Date.now() + Math.max(delayMs, 0);
    if (this.timer && at >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => this.runPass(), Math.max(delayMs, 0));
  }

  private runPass(): void {
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    if (!this.running || this.current) return;
    this.pokedDuringPass = false;
    this.current = this.pass()
      .then(
        (r) => r.nextInMs,
        (err: unknown) => {
          this.logger.error({ err, loop: this.name }, "loop pass failed");
          return this.errorBackoffMs;
        },
      )
      .then((next) => {
        this.current = undefined;
        if (this.running) this.schedule(this.pokedDuringPass ? 0 : next);
      });
  }
}
