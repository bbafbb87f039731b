// Claimed runs as coordinators receive them, and the push channel that delivers claims without a
// ClaimRuns round trip.
//
// A claim carries a run's whole journal only on the first claim of a generation. After that it
// carries the outcomes no earlier claim delivered (`partial`): a coordinator whose live execution
// took the previous claim (claims are numbered) needs nothing else, and any other coordinator
// reads the full journal (ReadJournals). So a turn costs O(new outcomes), not O(journal length).
// A claim that never reached its coordinator breaks the numbering, so it cannot lose outcomes.
//
// Push: a coordinator holds a StreamClaims stream open and grants credits. A transaction that
// makes runs ready (RecordResultBatch) leases them to the connected coordinator that owns their
// shard (shard mod streams, so a run keeps meeting the same live execution) while it has credit,
// and sends them down its stream after the commit. Runs it cannot push stay ready for ClaimRuns.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type ClaimedRun,
  ClaimedRunSchema,
  type ReadJournalsRequest,
  type ReadJournalsResponse,
  ReadJournalsResponseSchema,
  type StreamClaimsRequest,
  type StreamClaimsResponse,
  StreamClaimsResponseSchema,
} from "@weft/contracts";
import { shardOf } from "@weft/runtime";
import type { JournalContext } from "./context.ts";
import { batchTransaction, type Db, type StepRow } from "./db.ts";
import { claimRunToProto, claimStepToProto, runToProto, stepToProto } from "./messages.ts";
import { type ClaimRunRow, type LeaseTo, markReadyTaking, releaseLeases, runningRuns } from "./store/runs.ts";
import { currentSteps, markUndelivered, type RecordedStep, takeUndelivered } from "./store/steps.ts";
import { optionalText, requireCount, requireName, requireRange, requireUuid } from "./validation.ts";

export const DEFAULT_LEASE_MS = 30_000;
const MAX_READ_JOURNALS = 10_000;

function groupByRun<S extends Pick<StepRow, "run_id">>(steps: readonly S[]): Map<string, S[]> {
  const byRun = new Map<string, S[]>();
  for (const step of steps) {
    const list = byRun.get(step.run_id);
    if (list) list.push(step);
    else byRun.set(step.run_id, [step]);
  }
  return byRun;
}

/**
 * The claims of freshly leased runs (inside the leasing transaction): the full journal on a
 * generation's first claim, else the outcomes no earlier claim delivered. `recorded`: outcomes
 * this transaction recorded as delivered already (recordResults' deliveredRuns), which the
 * journal's rows no longer show as undelivered: the claims carry them as recordResults returned them.
 */
export async function claimsOf(
  db: Db,
  runs: readonly ClaimRunRow[],
  recorded: readonly RecordedStep[] = [],
): Promise<ClaimedRun[]> {
  if (runs.length === 0) return [];
  const full = runs.filter((r) => r.claims <= 1).map((r) => r.id);
  const fullSet = new Set(full);
  const steps = groupByRun(
    await takeUndelivered(
      db,
      runs.map((r) => r.id),
      full,
      recorded.filter((s) => s.delivered && !fullSet.has(s.run_id)),
    ),
  );
  return runs.map((run) => {
    const partial = run.claims > 1;
    return create(ClaimedRunSchema, {
      // A partial claim's run has no args (ClaimRunRow).
      run: claimRunToProto(run),
      leaseToken: BigInt(run.lease_token),
      claim: run.claims,
      partial,
      steps: (steps.get(run.id) ?? []).map(claimStepToProto),
    });
  });
}

/** The first claim of a run inserted already leased: the run, no journal yet. */
export function firstClaim(run: ClaimRunRow): ClaimedRun {
  return create(ClaimedRunSchema, {
    run: claimRunToProto(run),
    leaseToken: BigInt(run.lease_token),
    claim: run.claims,
    partial: false,
    steps: [],
  });
}

export async function readJournals(j: JournalContext, req: ReadJournalsRequest): Promise<ReadJournalsResponse> {
  requireCount("run_ids", req.runIds.length, 0, MAX_READ_JOURNALS);
  const ids = req.runIds.map((id, i) => requireUuid(`run_ids[${i}]`, id));
  // In a batch transaction for its planner settings: steps found by `run_id = ANY($ids)` on a
  // young table without statistics were a whole-table (parallel) scan, 85-120 ms a call.
  const { runs, steps } = await batchTransaction(j.db, async (trx) => {
    const running = await runningRuns(trx, ids);
    const found = await currentSteps(
      trx,
      running.map((r) => r.id),
    );
    return { runs: running, steps: groupByRun(found) };
  });
  return create(ReadJournalsResponseSchema, {
    runs: runs.map((run) => ({
      run: runToProto(run),
      leaseToken: BigInt(run.lease_token),
      claim: run.claims,
      partial: false,
      steps: (steps.get(run.id) ?? []).map(stepToProto),
    })),
  });
}

interface ClaimStream {
  readonly owner: string;
  readonly leaseMs: number;
  /** The app versions the coordinator carries (only such runs are leased to it); null: any. */
  readonly appVersions: readonly string[] | null;
  credits: number;
  /**
   * Runs of its shards were left ready for ClaimRuns for want of credit: until its ClaimRuns comes
   * back short (they were taken, oldest first), no run is pushed past them.
   */
  backlog: boolean;
  push(runs: ClaimedRun[]): void;
}

/** Credits taken for one transaction's push claims. */
export interface PushReservation {
  readonly leases: readonly LeaseTo[];
  readonly streams: ReadonlyMap<string, ClaimStream>;
}

/**
 * eager (the default): any run is pushed while there is credit; runs left for ClaimRuns wait
 * until the coordinator's queue runs dry, so under sustained overload they can wait long while
 * newer runs are pushed past them. fair: once a stream runs out of credit, runs made ready later
 * are not pushed past those (nor continued past them in a CommitTurns answer) until the owner's
 * ClaimRuns comes back short: claims are served oldest first and none starves, but every run of
 * a burst advances in step, so a burst's median latency nears its wall time, all its runs are
 * live at once (a coordinator's execution cache smaller than the burst misses), and runs that
 * wait cost an extra row version per turn (docs/performance.md).
 */
export type ClaimOrder = "fair" | "eager";

export class ClaimHub {
  private streams: ClaimStream[] = [];
  private readonly order: ClaimOrder;

  constructor(order: ClaimOrder = "eager") {
    this.order = order;
  }

  get size(): number {
    return this.streams.length;
  }

  add(stream: ClaimStream): void {
    this.streams = [...this.streams, stream].sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
  }

  remove(stream: ClaimStream): void {
    this.streams = this.streams.filter((s) => s !== stream);
  }

  /**
   * Picks the stream owning each run's shard and takes one of its credits; runs whose stream
   * has none are left out (they stay ready for ClaimRuns). In fair order, once a stream ran out of
   * credit, a run made ready later is left in Postgres behind those (not pushed past them) until
   * the stream's ClaimRuns drains them.
   */
  reserve(runIds: readonly string[], shards: number): PushReservation | undefined {
    if (this.streams.length === 0 || runIds.length === 0) return undefined;
    const leases: LeaseTo[] = [];
    const streams = new Map<string, ClaimStream>();
    for (const runId of new Set(runIds)) {
      const stream = this.streams[shardOf(runId, shards) % this.streams.length];
      if (!stream || stream.backlog) continue;
      if (stream.credits <= 0) {
        if (this.order === "fair") stream.backlog = true;
        continue;
      }
      stream.credits--;
      streams.set(stream.owner, stream);
      // A run of another version is not leased (markReadyTaking / insertRootRuns check it): its
      // credit comes back and the run stays ready for a coordinator that carries its version.
      leases.push({ runId, owner: stream.owner, leaseMs: stream.leaseMs, appVersions: stream.appVersions });
    }
    return leases.length > 0 ? { leases, streams } : undefined;
  }

  /** Whether runs left ready for the owner's ClaimRuns hold its pushes back (see reserve). */
  backlogged(owner: string): boolean {
    return this.streams.some((s) => s.owner === owner && s.backlog);
  }

  /** The owner's ClaimRuns came back short: what waited was taken, pushes resume. */
  drained(owner: string): void {
    for (const stream of this.streams) if (stream.owner === owner) stream.backlog = false;
  }

  /** Gives back the credits of reserved runs that were not leased (or of a failed transaction). */
  unreserve(reservation: PushReservation, leased: ReadonlySet<string> = new Set()): void {
    for (const lease of reservation.leases) {
      if (leased.has(lease.runId)) continue;
      const stream = reservation.streams.get(lease.owner);
      if (stream) stream.credits++;
    }
  }

  /**
   * After the commit: sends each claimed run down its owner's stream. Returns the claims whose
   * stream went away meanwhile (their leases should be released).
   */
  deliver(reservation: PushReservation, pushed: readonly PushedClaim[]): PushedClaim[] {
    const byOwner = new Map<string, ClaimedRun[]>();
    for (const { owner, claim } of pushed) {
      const list = byOwner.get(owner);
      if (list) list.push(claim);
      else byOwner.set(owner, [claim]);
    }
    const orphaned: PushedClaim[] = [];
    for (const [owner, claims] of byOwner) {
      const stream = reservation.streams.get(owner);
      if (stream && this.streams.includes(stream)) stream.push(claims);
      else orphaned.push(...claims.map((claim) => ({ owner, claim })));
    }
    return orphaned;
  }
}

/** A claim leased to a coordinator's stream. */
export interface PushedClaim {
  owner: string;
  claim: ClaimedRun;
}

/**
 * Leases of pushed claims whose coordinator is gone: made claimable again at once (instead of
 * waiting for the lease to expire), fenced by token so a lease renewed meanwhile is kept.
 */
export async function releaseOrphans(j: JournalContext, orphaned: readonly PushedClaim[]): Promise<void> {
  if (orphaned.length === 0) return;
  try {
    await releaseLeases(
      j.db,
      orphaned.map(({ owner, claim }) => ({ runId: claim.run?.id ?? "", owner, token: claim.leaseToken })),
    );
    j.notifier.wake();
  } catch (err) {
    j.logger.warn({ err, runs: orphaned.length }, "releasing orphaned push claims failed; their leases will expire");
  }
}

/**
 * Takes push credits for runs that a transaction may make ready, before it records their
 * outcomes (recordResults records the outcomes of reserved runs as delivered). The caller gives
 * the credits back: deliverPushed after the commit, abandonPush if the transaction fails.
 */
export function reservePush(j: JournalContext, runIds: readonly string[]): PushReservation | undefined {
  return j.claims.reserve(runIds, j.config.shards);
}

/**
 * Marks runs ready (a transaction recorded outcomes they wait for) and, in the same statement,
 * leases those reserved for a coordinator's stream: returns the runs now ready that no turn holds
 * (`readyRuns`, pushed or not) and what to deliver after the commit. `recorded` are the steps the
 * transaction recorded; those of reserved runs went in as delivered, and are marked undelivered
 * again where their run was not leased (a turn held it, or its version is not the stream's).
 */
export async function markReadyAndPush(
  db: Db,
  runIds: readonly string[],
  reservation: PushReservation | undefined,
  recorded: readonly RecordedStep[],
): Promise<{ readyRuns: string[]; push: Push | undefined }> {
  const rows = await markReadyTaking(db, runIds, new Map(reservation?.leases.map((l) => [l.runId, l])));
  const readyRuns = rows.filter((r) => !r.leased).map((r) => r.id);
  const leased = rows.filter((r) => r.taken);
  const leasedIds = new Set(leased.map((r) => r.id));
  await markUndelivered(
    db,
    recorded.filter((s) => s.delivered && !leasedIds.has(s.run_id)).map((s) => s.id),
  );
  if (!reservation) return { readyRuns, push: undefined };
  const claims = await claimsOf(
    db,
    leased,
    recorded.filter((s) => leasedIds.has(s.run_id)),
  );
  return {
    readyRuns,
    push: {
      reservation,
      leased: leasedIds,
      pushed: claims.map((claim, i) => ({ owner: leased[i]?.lease_owner ?? "", claim })),
    },
  };
}

export interface Push {
  reservation: PushReservation;
  leased: ReadonlySet<string>;
  pushed: PushedClaim[];
}

/** After the commit of a transaction that pushed claims: delivers them. */
export function deliverPushed(j: JournalContext, push: Push): void {
  j.claims.unreserve(push.reservation, push.leased);
  const orphaned = j.claims.deliver(push.reservation, push.pushed);
  if (orphaned.length > 0) void releaseOrphans(j, orphaned);
}

/** The transaction that reserved push credits failed: nothing was leased. */
export function abandonPush(j: JournalContext, reservation: PushReservation | undefined): void {
  if (reservation) j.claims.unreserve(reservation);
}

/** StreamClaims: registers the coordinator's stream with the hub and sends it what is pushed. */
export async function* streamClaims(
  j: JournalContext,
  requests: AsyncIterable<StreamClaimsRequest>,
  ctx: HandlerContext,
): AsyncGenerator<StreamClaimsResponse> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const owner = requireName("owner", first.value.owner);
  const leaseMs =
    first.value.leaseMs === 0 ? DEFAULT_LEASE_MS : requireRange("lease_ms", first.value.leaseMs, 100, 3_600_000);
  const queue: ClaimedRun[] = [];
  let notify: (() => void) | undefined;
  const wakeUp = () => {
    const n = notify;
    notify = undefined;
    n?.();
  };
  requireCount("app_versions", first.value.appVersions.length, 0, 100);
  for (const [i, v] of first.value.appVersions.entries()) optionalText(`app_versions[${i}]`, v, 256);
  const stream: ClaimStream = {
    owner,
    leaseMs,
    appVersions: first.value.appVersions.length > 0 ? [...first.value.appVersions] : null,
    credits: first.value.credits,
    backlog: false,
    push(runs) {
      queue.push(...runs);
      wakeUp();
    },
  };
  let ended = false;
  const reading = (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        stream.credits += next.value.credits;
      }
    } catch {
      // the coordinator went away
    } finally {
      ended = true;
      wakeUp();
    }
  })();
  const onAbort = () => {
    ended = true;
    wakeUp();
  };
  ctx.signal.addEventListener("abort", onAbort);
  j.claims.add(stream);
  j.logger.info({ owner, credits: stream.credits }, "coordinator claim stream opened");
  try {
    while (!ended) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          notify = resolve;
        });
        continue;
      }
      yield create(StreamClaimsResponseSchema, { runs: queue.splice(0) });
    }
  } finally {
    j.claims.remove(stream);
    ctx.signal.removeEventListener("abort", onAbort);
    j.logger.info({ owner }, "coordinator claim stream closed");
    // Claims pushed but never sent: claimable again now.
    await releaseOrphans(
      j,
      queue.splice(0).map((claim) => ({ owner, claim })),
    );
    void reading;
  }
}
