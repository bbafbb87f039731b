// Keeps live WorkflowExecutions of hot runs between turns so a coordinator feeds each only its new
// outcomes instead of replaying from scratch (O(steps) per run's life instead of O(steps²)).
import type { App } from "../app.ts";
import { WeftError } from "../errors.ts";
import { StaleExecutionError, WorkflowExecution } from "./execution.ts";
import type { TurnInput, TurnOutcome } from "./journal.ts";
import { replayTurn } from "./replay-turn.ts";

export interface ExecutionCacheOptions {
  /** Most live executions kept; the least recently used is dropped beyond it. Default 10,000. */
  maxRuns?: number;
}

/** A partial claim reached a cache without the live execution it continues: read the full journal. */
export class FullJournalNeededError extends WeftError {
  override name = "FullJournalNeededError";
  readonly runId: string;
  constructor(runId: string, why: string) {
    super(`run ${runId}: ${why}; the full journal is needed`);
    this.runId = runId;
  }
}

interface Live {
  execution: WorkflowExecution;
  /** The claim its last turn served (0 when unknown). */
  claim: number;
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
  private readonly live = new Map<string, Live>();

  constructor(app: App, options: ExecutionCacheOptions = {}) {
    this.app = app;
    this.maxRuns = options.maxRuns ?? 10_000;
  }

  get size(): number {
    return this.live.size;
  }

  /** Whether a partial claim numbered `claim` of the run (of `generation`, when given) can be served here. */
  continues(runId: string, claim: number, generation?: number): boolean {
    const live = this.live.get(runId);
    if (generation !== undefined && live?.execution.run.generation !== generation) return false;
    return live?.claim === claim - 1;
  }

  /**
   * One turn for a run: same outcome as `replayTurn` given the run's whole journal. With
   * `alwaysReplay` every turn replays from scratch (the determinism test mode) and nothing is
   * cached. A partial claim (only new outcomes) needs the live execution that took the previous
   * claim; without it, or when that execution turns out stale, this throws FullJournalNeededError.
   */
  async turn(input: TurnInput): Promise<TurnOutcome> {
    const runId = input.run.id;
    const claim = input.claim?.number ?? 0;
    const partial = input.claim?.partial ?? false;
    if (input.alwaysReplay) {
      this.live.delete(runId);
      if (partial) throw new FullJournalNeededError(runId, "determinism test mode replays from scratch");
      this.stats.misses++;
      return replayTurn(this.app, input);
    }
    let existing = this.live.get(runId);
    this.live.delete(runId); // re-inserted below as most recently used
    // A reset starts a new generation (and numbers its claims from 1 again): a live execution
    // of another generation saw the old journal.
    if (existing && existing.execution.run.generation !== input.run.generation) {
      this.stats.stale++;
      existing = undefined;
    }
    if (partial) {
      if (!existing || existing.claim !== claim - 1) {
        throw new FullJournalNeededError(runId, `no live execution took claim ${claim - 1}`);
      }
      try {
        const outcome = await existing.execution.apply(input.steps);
        this.stats.hits++;
        return this.keep(existing.execution, outcome, claim);
      } catch (err) {
        if (!(err instanceof StaleExecutionError)) throw err;
        this.stats.stale++;
        throw new FullJournalNeededError(runId, err.message);
      }
    }
    if (existing) {
      try {
        const outcome = await existing.execution.apply(input.steps, { fullJournal: true });
        this.stats.hits++;
        return this.keep(existing.execution, outcome, claim);
      } catch (err) {
        if (!(err instanceof StaleExecutionError)) throw err;
        this.stats.stale++;
      }
    }
    this.stats.misses++;
    const execution = new WorkflowExecution(this.app, input.run);
    return this.keep(execution, await execution.apply(input.steps, { fullJournal: true }), claim);
  }

  /** Forgets a run (its lease was lost, or it ended). */
  evict(runId: string): void {
    this.live.delete(runId);
  }

  clear(): void {
    this.live.clear();
  }

  private keep(execution: WorkflowExecution, outcome: TurnOutcome, claim: number): TurnOutcome {
    if (!outcome.completion) {
      this.live.set(execution.run.id, { execution, claim });
      while (this.live.size > this.maxRuns) {
        const oldest = this.live.keys().next().value;
        if (oldest === undefined) break;
        this.live.delete(oldest);
      }
    }
    return outcome;
  }
}
