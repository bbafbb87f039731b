// Turns claimed runs into committed turns. Claims reach one queue three ways:
// - pushed: the journal claims runs for this coordinator in the transaction that made them ready
//   and sends them down a StreamClaims stream, within the credits granted (one per queue slot);
// - continued: a run that became ready again while its turn ran comes back, still leased, in the
//   CommitTurns answer;
// - polled: ClaimRuns (FOR UPDATE SKIP LOCKED) when woken or every safety poll, for everything
//   else (expired leases, runs a stream could not take, other journal replicas).
// Workers take batches from the queue, replay each run (its live execution takes a partial claim;
// a partial claim without one reads the full journal first), and commit the batch's turns in one
// CommitTurns call. Several workers overlap claims, replays and commits.
import { Code, ConnectError } from "@connectrpc/connect";
import { createWritableIterable, type WritableIterable } from "@connectrpc/connect/protocol";
import { type ClaimedRun, type StreamClaimsRequest, type Turn, TurnStatus } from "@weft/contracts";
import type { Logger, Loop } from "@weft/runtime";
import type { App } from "@weft/sdk";
import { ExecutionCache, FullJournalNeededError } from "@weft/sdk/workflow";
import {
  type Attributes,
  context,
  contextFromTraceparent,
  currentTraceparent,
  type Link,
  SpanStatusCode,
  spanContextOf,
  trace,
} from "@weft/telemetry";
import type { JournalClient } from "./journal-client.ts";
import type { CoordinatorMetrics } from "./metrics.ts";
import { newestClaims, replayInput, turnOf } from "./turn.ts";
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
  /**
   * Runs a claim stream carries before it is closed and reopened (default 10,000). The client
   * holds every message a stream delivered until the call ends (connect-es races each read
   * against one long-lived abort promise, connectrpc/connect-es#1524), so a stream that lived as
   * long as the process would grow its memory with every claim ever pushed.
   */
  streamRotateRuns?: number;
  /** Open a StreamClaims stream so the journal pushes claims (default true). */
  pushClaims?: boolean;
}

/** CommitTurns attempts on a transient failure: 50, 100, 200 and 400 ms apart. */
const COMMIT_ATTEMPTS = 5;
/** Codes of a journal that could not answer (restarting, overloaded, a transaction aborted). */
const TRANSIENT_CODES: ReadonlySet<Code> = new Set([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
]);

type Source = "polled" | "pushed" | "continued";

interface Queued {
  claim: ClaimedRun;
  source: Source;
}

export class ClaimLoop implements Loop {
  private readonly options: ClaimLoopOptions;
  private stopped = false;
  private draining = false;
  private running: Promise<void>[] = [];
  private readonly queue: Queued[] = [];
  /** Some run is known or suspected to be claimable: the next idle worker polls ClaimRuns. */
  private pollWanted = true;
  /** Credits a push stream may hold: pushed claims waiting or being turned count against it. */
  private readonly pushCapacity: number;
  private pushedHeld = 0;
  private streamRequests: WritableIterable<StreamClaimsRequest> | undefined;
  private streamDone: Promise<void> = Promise.resolve();
  private streamAbort = new AbortController();
  /** Hot runs' live executions: a turn feeds only new outcomes instead of replaying from scratch. */
  readonly executions: ExecutionCache;

  constructor(options: ClaimLoopOptions) {
    this.options = options;
    this.executions = new ExecutionCache(options.app, { maxRuns: options.cachedRuns });
    this.pushCapacity = options.claimBatch * Math.max(options.workers, 1) * 2;
    for (const source of ["polled", "pushed", "continued"]) options.metrics.claimed.inc({ source }, 0);
  }

  start(): void {
    this.stopped = false;
    this.draining = false;
    this.streamAbort = new AbortController();
    this.options.wake.wake();
    if (this.options.pushClaims !== false) this.openStreams();
    this.running = Array.from({ length: this.options.workers }, () => this.work());
  }

  /** Stops taking claims, turns what it holds, then stops. */
  async stop(): Promise<void> {
    this.draining = true;
    this.streamAbort.abort();
    await this.streamDone;
    this.stopped = true;
    this.options.wake.wake();
    await Promise.all(this.running);
  }

  /** The journal says runs became ready that it did not push (its wake notice): poll for them. */
  requestPoll(): void {
    this.pollWanted = true;
    this.options.wake.wake();
  }

  /** Claims waiting for a turn (for tests and metrics). */
  get queued(): number {
    return this.queue.length;
  }

  private enqueue(claims: readonly ClaimedRun[], source: Source): void {
    if (claims.length === 0) return;
    for (const claim of claims) this.queue.push({ claim, source });
    this.options.metrics.claimed.inc({ source }, claims.length);
    this.options.wake.wake();
  }

  // --- push stream -------------------------------------------------------------------------

  /** Keeps a StreamClaims stream open (reopening it after a failure) until the loop drains. */
  private openStreams(): void {
    const { journal, owner, leaseMs, logger } = this.options;
    const signal = this.streamAbort.signal;
    this.streamDone = (async () => {
      let failures = 0;
      while (!signal.aborted) {
        let rotated = false;
        const requests = createWritableIterable<StreamClaimsRequest>();
        this.streamRequests = requests;
        const opened = Date.now();
        try {
          const responses = journal.streamClaims(requests, { signal });
          // Runs already pushed and held were granted by an earlier stream.
          requests
            .write({
              owner,
              leaseMs,
              credits: Math.max(0, this.pushCapacity - this.pushedHeld),
              // Only runs of the version this coordinator carries are pushed to it.
              appVersions: [this.options.app.version],
            } as StreamClaimsRequest)
            .catch(() => {
              // the stream failed before it was read; the loop reopens it
            });
          let carried = 0;
          const rotateAfter = this.options.streamRotateRuns ?? 10_000;
          for await (const res of responses) {
            this.pushedHeld += res.runs.length;
            this.enqueue(res.runs, "pushed");
            carried += res.runs.length;
            // Enough carried: end the request side; the journal then ends the stream (claims it
            // still queued are released to be polled) and the loop opens a fresh one.
            if (carried >= rotateAfter && !rotated) {
              rotated = true;
              this.options.metrics.streamRotations.inc();
              requests.close();
            }
          }
          failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          failures = Date.now() - opened > 10_000 ? 1 : failures + 1;
          if (failures % 10 === 1) logger.warn({ err }, "claim stream failed; claims are polled until it reopens");
        } finally {
          this.streamRequests = undefined;
          requests.close();
        }
        if (signal.aborted) break;
        if (rotated && failures === 0) continue; // reopen at once; any other end backs off
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** Math.min(failures, 5), 2_000)));
      }
    })();
  }

  /** Turned pushed claims free their queue slots: grant the journal that many more. */
  private grant(n: number): void {
    if (n === 0) return;
    this.pushedHeld -= n;
    const requests = this.streamRequests;
    if (!requests || this.streamAbort.signal.aborted) return;
    requests.write({ owner: "", leaseMs: 0, credits: n } as StreamClaimsRequest).catch(() => {
      // the stream closed; its successor grants afresh
    });
  }

  // --- workers -----------------------------------------------------------------------------

  private async work(): Promise<void> {
    const { wake, safetyPollMs, logger } = this.options;
    let failures = 0;
    for (;;) {
      try {
        if (this.queue.length === 0) {
          if (this.stopped) break;
          if (this.draining) {
            await wake.wait(50);
            continue;
          }
          if (!this.pollWanted) {
            // Woken for queued claims or a poll request; the safety poll when nothing came.
            if (!(await wake.wait(safetyPollMs))) this.pollWanted = true;
            continue;
          }
          this.pollWanted = false;
          if (await this.poll()) this.pollWanted = true;
          continue;
        }
        const batch = this.queue.splice(0, this.options.claimBatch);
        if (await this.turnBatch(batch)) this.pollWanted = true;
        failures = 0;
      } catch (err) {
        if (this.stopped) {
          // Stopping and the journal does not answer: what is left waits for its leases to expire.
          logger.warn({ err, claims: this.queue.length }, "stopping with claims left unturned");
          this.queue.length = 0;
          break;
        }
        failures++;
        const delay = Math.min(50 * 2 ** failures, 2_000);
        logger.warn({ err, delayMs: delay }, "claim/commit failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
        this.pollWanted = true;
      }
    }
  }

  /** One ClaimRuns call into the queue. Returns whether more runs are known to be waiting. */
  private async poll(): Promise<boolean> {
    const { journal, owner, claimBatch, leaseMs, metrics, app } = this.options;
    // Only runs of the app version this coordinator carries; others wait for their own.
    const claimed = await journal.claimRuns({ owner, maxRuns: claimBatch, leaseMs, appVersions: [app.version] });
    metrics.claims.inc();
    metrics.claimBatch.observe(claimed.runs.length);
    this.enqueue(claimed.runs, "polled");
    return claimed.runs.length === claimBatch;
  }

  /**
   * Replays a batch of claims and commits their turns. Returns whether a run is known to be ready
   * again (and was not continued).
   */
  private async turnBatch(batch: Queued[]): Promise<boolean> {
    const { logger, metrics } = this.options;
    const pushed = batch.filter((q) => q.source === "pushed").length;
    try {
      const { newest, superseded } = newestClaims(batch.map((q) => q.claim));
      for (const old of superseded) {
        metrics.turns.inc({ status: "fenced" });
        logger.warn(
          { runId: old.run?.id, leaseToken: String(old.leaseToken) },
          "turn fenced: the run was leased again before this claim was turned",
        );
      }
      const claims = await this.withFullJournals(newest);
      const turns: Turn[] = [];
      const links: Link[] = [];
      for (const claim of claims) {
        let turn = await this.replay(claim);
        if (turn === "full") {
          // The live execution was stale: replay from the full journal.
          const [full] = await this.readJournals([claim]);
          turn = full ? await this.replay(full) : undefined;
        }
        if (!turn || turn === "full") continue;
        turns.push(turn);
        const spanContext = spanContextOf(turn.traceparent);
        if (spanContext) links.push({ context: spanContext });
      }
      if (turns.length === 0) return false;
      const span = tracer.startSpan("CommitTurns batch", { links, attributes: { "weft.batch.size": turns.length } });
      const stopTimer = metrics.commitSeconds.startTimer();
      let committed: Awaited<ReturnType<JournalClient["commitTurns"]>>;
      try {
        committed = await context.with(trace.setSpan(context.active(), span), () => this.commit(turns));
      } catch (err) {
        for (const turn of turns) this.executions.evict(turn.runId);
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
      this.enqueue(committed.claimed, "continued");
      return readyAgain;
    } finally {
      this.grant(pushed);
    }
  }

  /**
   * CommitTurns, retried a few times (within a second) when the journal could not answer: the
   * coordinator still holds the leases, and a batch given up waits for them to expire
   * (WEFT_LEASE_MS). A retry is safe: a commit that did land answers FENCED or NOT_RUNNING.
   */
  private async commit(turns: Turn[]): Promise<Awaited<ReturnType<JournalClient["commitTurns"]>>> {
    const { journal, owner, leaseMs, logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await journal.commitTurns({ owner, turns, continueReady: !this.draining, leaseMs });
      } catch (err) {
        const code = ConnectError.from(err).code;
        if (attempt >= COMMIT_ATTEMPTS || !TRANSIENT_CODES.has(code) || this.stopped) throw err;
        const delay = 50 * 2 ** (attempt - 1);
        logger.warn({ err, attempt, turns: turns.length, retryInMs: delay }, "CommitTurns failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Partial claims this coordinator holds no live execution for get their full journals. */
  private async withFullJournals(claims: ClaimedRun[]): Promise<ClaimedRun[]> {
    const missing = claims.filter(
      (c) =>
        c.partial &&
        (this.options.alwaysReplay || !this.executions.continues(c.run?.id ?? "", c.claim, c.run?.generation)),
    );
    if (missing.length === 0) return claims;
    const full = new Map((await this.readJournals(missing)).map((c) => [c.run?.id, c]));
    const out: ClaimedRun[] = [];
    for (const claim of claims) {
      if (!claim.partial || !missing.includes(claim)) out.push(claim);
      else {
        const f = full.get(claim.run?.id);
        if (f) out.push(f); // a run that ended meanwhile has nothing to turn
      }
    }
    return out;
  }

  /** Full journals for claims, keeping each claim's lease token and number. */
  private async readJournals(claims: ClaimedRun[]): Promise<ClaimedRun[]> {
    this.options.metrics.journalReads.inc();
    const res = await this.options.journal.readJournals({ runIds: claims.map((c) => c.run?.id ?? "") });
    const byId = new Map(res.runs.map((r) => [r.run?.id, r]));
    const out: ClaimedRun[] = [];
    for (const claim of claims) {
      const full = byId.get(claim.run?.id);
      if (full) out.push({ ...full, leaseToken: claim.leaseToken, claim: claim.claim, partial: false });
    }
    return out;
  }

  /**
   * Replays one run in a turn span that joins the run's trace (persisted traceparent). Returns
   * "full" when a partial claim needs the full journal.
   */
  private async replay(claimed: ClaimedRun): Promise<Turn | "full" | undefined> {
    const run = claimed.run;
    const parent = contextFromTraceparent(run?.traceparent);
    const attributes: Attributes = {
      "weft.run.steps": claimed.steps.length,
      "weft.claim": claimed.claim,
      "weft.claim.partial": claimed.partial,
    };
    // The run's id once per generation, on its first turn: a child run (whose trace is its
    // parent's, with no start span of its own) or a reset run is found by it while it runs.
    if (claimed.claim <= 1) attributes["weft.run.id"] = run?.id ?? "";
    const span = tracer.startSpan(`turn ${run?.workflowName ?? "?"}`, { attributes }, parent);
    const ctx = trace.setSpan(parent, span);
    const stopTimer = this.options.metrics.replaySeconds.startTimer();
    try {
      const outcome = await context.with(ctx, () =>
        this.executions.turn({
          ...replayInput(claimed),
          alwaysReplay: this.options.alwaysReplay,
          claim: { number: claimed.claim, partial: claimed.partial },
        }),
      );
      span.setAttribute("weft.turn.new_steps", outcome.newSteps.length);
      if (outcome.completion)
        span.setAttribute("weft.turn.completes", "result" in outcome.completion ? "completed" : "failed");
      return turnOf(claimed, outcome, currentTraceparent(ctx));
    } catch (err) {
      if (err instanceof FullJournalNeededError) {
        span.addEvent("full journal needed", { "exception.message": err.message });
        return "full";
      }
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
