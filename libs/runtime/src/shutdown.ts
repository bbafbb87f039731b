// Ordered shutdown: named steps run one after another (reverse order of start), each logged, all
// under one deadline. SIGTERM and SIGINT trigger it once.
import type { Logger } from "./logger.ts";

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<void> | undefined;

  private readonly logger: Logger;
  private readonly deadlineMs: number;

  constructor(logger: Logger, deadlineMs = 30_000) {
    this.logger = logger;
    this.deadlineMs = deadlineMs;
  }

  /** Adds a step; steps run in reverse order of adding (last started, first stopped). */
  add(name: string, run: ShutdownStep["run"]): void {
    this.steps.push({ name, run });
  }

  /** Installs SIGTERM/SIGINT handlers that run the shutdown and exit. */
  onSignals(exit: (code: number) => void = (code) => process.exit(code)): void {
    const handle = (signal: string) => {
      this.logger.info({ signal }, "shutdown requested");
      this.run().then(
        () => exit(0),
        () => exit(1),
      );
    };
    process.once("SIGTERM", handle);
    process.once("SIGINT", handle);
  }

  run(): Promise<void> {
    this.running ??= this.execute();
    return this.running;
  }

  private async execute(): Promise<void> {
    const ordered = [...this.steps].reverse();
    const deadline = Date.now() + this.deadlineMs;
    let failed = false;
    for (const [i, step] of ordered.entries()) {
      const left = deadline - Date.now();
      this.logger.info(`stopping ${step.name} (${i + 1}/${ordered.length})`);
      try {
        await Promise.race([
          Promise.resolve().then(step.run),
          new Promise<never>((_, reject) => {
            const t = setTimeout(
              () => reject(new Error(`deadline passed while stopping ${step.name}`)),
              Math.max(left, 0),
            );
            t.unref();
          }),
        ]);
      } catch (err) {
        failed = true;
        this.logger.error({ err }, `stopping ${step.name} failed`);
      }
    }
    this.logger.info("stopped");
    if (failed) throw new Error("shutdown had failures");
  }
}

/** A long-running loop (claim, consume, flush, sweeper, timers). `stop()` drains. */
export interface Loop {
  start(): void | Promise<void>;
  stop(): Promise<void>;
}
