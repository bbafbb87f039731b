// Claims ready runs in batches, replays each against its journal and commits all the turns of
// the batch in one CommitTurns call. Several workers share one wake signal so that the next claim
// overlaps the previous commit; SKIP LOCKED keeps their claims disjoint.

import { type ClaimedRun, type Turn, TurnStatus } from "@weft/contracts";
import type { Logger, Loop } from "@weft/runtime";
import type { App } from "@weft/sdk";
import { replayTurn } from "@weft/sdk/workflow";
import type { JournalClient } from "./journal-client.ts";
import { replayInput, turnOf } from "./turn.ts";
import type { WakeSignal } from "./wake-signal.ts";

export interface ClaimLoopOptions {
  owner: string;
  journal: JournalClient;
  app: App;
  logger: Logger;
  wake: WakeSignal;
  claimBatch: number;
  leaseMs: number;
  safetyPollMs: number;
  workers: number;
  /** Determinism test mode: replay every turn twice from scratch and compare. */
  alwaysReplay: boolean;
}

export interface ClaimLoopStats {
  claims: number;
  runsClaimed: number;
  turnsCommitted: number;
  turnsFenced: number;
}

export class ClaimLoop implements Loop {
  private readonly options: ClaimLoopOptions;
  private stopped = false;
  private running: Promise<void>[] = [];
  readonly stats: ClaimLoopStats = { claims: 0, runsClaimed: 0, turnsCommitted: 0, turnsFenced: 0 };

  constructor(options: ClaimLoopOptions) {
    this.options = options;
  }

  start(): void {
    this.stopped = false;
    this.options.wake.wake();
    this.running = Array.from({ length: this.options.workers }, () => this.work());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.options.wake.wake();
    await Promise.all(this.running);
  }

  private async work(): Promise<void> {
    const { wake, safetyPollMs, logger } = this.options;
    let failures = 0;
    while (!this.stopped) {
      await wake.wait(safetyPollMs);
      if (this.stopped) break;
      try {
        // Keep going without waiting while a batch came back full or runs became ready again.
        while (!this.stopped && (await this.turnBatch())) {
          /* more work is queued */
        }
        failures = 0;
      } catch (err) {
        failures++;
        const delay = Math.min(50 * 2 ** failures, 2_000);
        logger.warn({ err, delayMs: delay }, "claim/commit failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
        wake.wake();
      }
    }
  }

  /** One claim → replay → commit round. Returns whether more work is known to be waiting. */
  private async turnBatch(): Promise<boolean> {
    const { journal, owner, claimBatch, leaseMs, logger } = this.options;
    const claimed = await journal.claimRuns({ owner, maxRuns: claimBatch, leaseMs });
    this.stats.claims++;
    if (claimed.runs.length === 0) return false;
    this.stats.runsClaimed += claimed.runs.length;
    const turns: Turn[] = [];
    for (const run of claimed.runs) {
      const turn = await this.replay(run);
      if (turn) turns.push(turn);
    }
    if (turns.length === 0) return claimed.runs.length === claimBatch;
    const committed = await journal.commitTurns({ owner, turns });
    let readyAgain = false;
    for (const result of committed.results) {
      if (result.status === TurnStatus.COMMITTED) this.stats.turnsCommitted++;
      else if (result.status === TurnStatus.FENCED) {
        this.stats.turnsFenced++;
        logger.warn({ runId: result.runId }, "turn fenced: the lease expired and the run moved on");
      }
      if (result.ready) readyAgain = true;
    }
    return readyAgain || claimed.runs.length === claimBatch;
  }

  private async replay(claimed: ClaimedRun): Promise<Turn | undefined> {
    try {
      const outcome = await replayTurn(this.options.app, {
        ...replayInput(claimed),
        alwaysReplay: this.options.alwaysReplay,
      });
      return turnOf(claimed, outcome);
    } catch (err) {
      // An engine fault (not a workflow error, which becomes the run's failure): leave the lease
      // to expire so that the run is retried, rather than failing it for a bug of ours.
      this.options.logger.error({ err, runId: claimed.run?.id }, "replay crashed; the run will be retried");
      return undefined;
    }
  }
}
