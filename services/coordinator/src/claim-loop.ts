// Claims ready runs in batches, replays each against its journal and commits all the turns of
// the batch in one CommitTurns call. Several workers share one wake signal so that the next claim
// overlaps the previous commit; SKIP LOCKED keeps their claims disjoint.
import { type ClaimedRun, type Turn, TurnStatus } from "@weft/contracts";
import type { Logger, Loop } from "@weft/runtime";
import type { App } from "@weft/sdk";
import { ExecutionCache } from "@weft/sdk/workflow";
import { context, contextFromTraceparent, currentTraceparent, type Link, SpanStatusCode, trace } from "@weft/telemetry";
import type { JournalClient } from "./journal-client.ts";
import type { CoordinatorMetrics } from "./metrics.ts";
import { replayInput, turnOf } from "./turn.ts";
import type { WakeSignal } from "./wake-signal.ts";

const tracer = trace.getTracer("weft.coordinator");

export interface ClaimLoopOptions {
  owner: string;
  journal: JournalClient;
  app: App;
  logger: Logger;
  wake: WakeSignal;
  metrics: CoordinatorMetrics;
  claimBatch: number;
  leaseMs: number;
  safetyPollMs: number;
  workers: number;
  /** Determinism test mode: replay every turn twice from scratch and compare. */
  alwaysReplay: boolean;
  /** Live executions kept between turns (runs stay with their coordinator while it holds them). */
  cachedRuns: number;
}

export class ClaimLoop implements Loop {
  private readonly options: ClaimLoopOptions;
  private stopped = false;
  private running: Promise<void>[] = [];
  /** Hot runs' live executions: a turn feeds only new outcomes instead of replaying from scratch. */
  readonly executions: ExecutionCache;

  constructor(options: ClaimLoopOptions) {
    this.options = options;
    this.executions = new ExecutionCache(options.app, { maxRuns: options.cachedRuns });
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
    const { journal, owner, claimBatch, leaseMs, logger, metrics } = this.options;
    const claimed = await journal.claimRuns({ owner, maxRuns: claimBatch, leaseMs });
    metrics.claims.inc();
    metrics.claimBatch.observe(claimed.runs.length);
    if (claimed.runs.length === 0) return false;
    const turns: Turn[] = [];
    const links: Link[] = [];
    for (const run of claimed.runs) {
      const turn = await this.replay(run);
      if (!turn) continue;
      turns.push(turn);
      const spanContext = trace.getSpanContext(contextFromTraceparent(turn.traceparent));
      if (spanContext) links.push({ context: spanContext });
    }
    if (turns.length === 0) return claimed.runs.length === claimBatch;
    const span = tracer.startSpan("CommitTurns batch", { links, attributes: { "weft.batch.size": turns.length } });
    const stopTimer = metrics.commitSeconds.startTimer();
    let committed: Awaited<ReturnType<JournalClient["commitTurns"]>>;
    try {
      committed = await context.with(trace.setSpan(context.active(), span), () =>
        journal.commitTurns({ owner, turns }),
      );
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      stopTimer();
      span.end();
    }
    metrics.commitBatch.observe(turns.length);
    let readyAgain = false;
    for (const result of committed.results) {
      const status = TurnStatus[result.status]?.toLowerCase() ?? "unknown";
      metrics.turns.inc({ status });
      if (result.status !== TurnStatus.COMMITTED) this.executions.evict(result.runId);
      if (result.status === TurnStatus.FENCED) {
        logger.warn({ runId: result.runId }, "turn fenced: the lease expired and the run moved on");
      }
      if (result.ready) readyAgain = true;
    }
    return readyAgain || claimed.runs.length === claimBatch;
  }

  /** Replays one run in a turn span that joins the run's trace (persisted traceparent). */
  private async replay(claimed: ClaimedRun): Promise<Turn | undefined> {
    const run = claimed.run;
    const parent = contextFromTraceparent(run?.traceparent);
    const span = tracer.startSpan(
      `turn ${run?.workflowName ?? "?"}`,
      { attributes: { "weft.run.id": run?.id ?? "", "weft.run.steps": claimed.steps.length } },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    const stopTimer = this.options.metrics.replaySeconds.startTimer();
    try {
      const outcome = await context.with(ctx, () =>
        this.executions.turn({ ...replayInput(claimed), alwaysReplay: this.options.alwaysReplay }),
      );
      span.setAttribute("weft.turn.new_steps", outcome.newSteps.length);
      if (outcome.completion)
        span.setAttribute("weft.turn.completes", "result" in outcome.completion ? "completed" : "failed");
      return turnOf(claimed, outcome, currentTraceparent(ctx));
    } catch (err) {
      // An engine fault (not a workflow error, which becomes the run's failure): leave the lease
      // to expire so that the run is retried, rather than failing it for a bug of ours.
      this.options.metrics.turns.inc({ status: "replay_crashed" });
      if (run) this.executions.evict(run.id);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      this.options.logger.error({ err, runId: run?.id }, "replay crashed; the run will be retried");
      return undefined;
    } finally {
      stopTimer();
      span.end();
    }
  }
}
