// Keeps live WorkflowExecutions of hot runs between turns so a coordinator feeds each only its new
// outcomes instead of replaying from scratch (O(steps) per run's life instead of O(steps²)).
import type { App } from "../app.ts";
import { StaleExecutionError, WorkflowExecution } from "./execution.ts";
import type { TurnInput, TurnOutcome } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";

export interface ExecutionCacheOptions {
  /** Most live executions kept; the least recently used is dropped beyond it. Default 10,000. */
  maxRuns?: number;
}

export interface ExecutionCacheStats {
  /** Turns served by a live execution. */
  hits: number;
  /** Turns replayed from scratch (no live execution, or it was stale). */
  misses: number;
  /** Live executions found stale (journal diverged from what they saw) and replaced. */
  stale: number;
}

export class ExecutionCache {
  readonly app: App;
  readonly maxRuns: number;
  readonly stats: ExecutionCacheStats = { hits: 0, misses: 0, stale: 0 };
  private readonly live = new Map<string, WorkflowExecution>();

  constructor(app: App, options: ExecutionCacheOptions = {}) {
    this.app = app;
    this.maxRuns = options.maxRuns ?? 10_000;
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * One turn for a run given its whole journal: same outcome as `replayTurn`. With `alwaysReplay`
   * every turn replays from scratch (the determinism test mode) and nothing is cached.
   */
  async turn(input: TurnInput): Promise<TurnOutcome> {
    const runId = input.run.id;
    if (input.alwaysReplay) {
      this.live.delete(runId);
      this.stats.misses++;
      return replayTurn(this.app, input);
    }
    const existing = this.live.get(runId);
    this.live.delete(runId); // re-inserted below as most recently used
    if (existing) {
      try {
        const outcome = await existing.apply(input.steps, { fullJournal: true });
        this.stats.hits++;
        return this.keep(existing, outcome);
      } catch (err) {
        if (!(err instanceof StaleExecutionError)) throw err;
        this.stats.stale++;
      }
    }
    this.stats.misses++;
    const execution = new WorkflowExecution(this.app, input.run);
    return this.keep(execution, await execution.apply(input.steps, { fullJournal: true }));
  }

  /** Forgets a run (its lease was lost, or it ended). */
  evict(runId: string): void {
    this.live.delete(runId);
  }

  clear(): void {
    this.live.clear();
  }

  private keep(execution: WorkflowExecution, outcome: TurnOutcome): TurnOutcome {
    if (!outcome.completion) {
      this.live.set(execution.run.id, execution);
      while (this.live.size > this.maxRuns) {
        const oldest = this.live.keys().next().value;
        if (oldest === undefined) break;
        this.live.delete(oldest);
      }
    }
    return outcome;
  }
}
