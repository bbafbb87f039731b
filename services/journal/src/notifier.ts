// Core NATS notices after a commit: `<prefix>.wake` for coordinators when runs became ready,
// `<prefix>.run.changes` for watchers, one notice per commit naming every run it changed (a
// notice per run cost nats-server and the journal a publish each, 2-4 per step, for watchers that
// are mostly absent), and `<prefix>.run.ends` naming the runs the commit ended, for watches of the
// final state only (a caller awaiting a result), which need no read of the run per change.
// Fire-and-forget: losing one only delays a claim until the coordinator's poll or a watcher's
// fallback read. `RunWatches` is the listening side: each replica subscribes to a subject while it
// serves a watch that needs it, and hands each notice to the watches of the runs it names.
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeRunIds, encodeRunIds, runChangesSubject, runEndsSubject, wakeSubject } from "@weft/runtime";

/** Run ids per notice: 16,000 of 36 characters and a space, well under NATS's 1 MiB payload. */
const IDS_PER_NOTICE = 16_000;

export class Notifier {
  private readonly nc: NatsConnection;
  private readonly prefix: string;

  constructor(nc: NatsConnection, prefix: string) {
    this.nc = nc;
    this.prefix = prefix;
  }

  wake(): void {
    this.safely(() => this.nc.publish(wakeSubject(this.prefix)));
  }

  runsChanged(runIds: Iterable<string>): void {
    this.publishIds(runChangesSubject(this.prefix), runIds);
  }

  /** Runs that reached a final status (also named by `runsChanged` of the same commit). */
  runsEnded(runIds: Iterable<string>): void {
    this.publishIds(runEndsSubject(this.prefix), runIds);
  }

  private publishIds(subject: string, runIds: Iterable<string>): void {
    const ids = [...new Set(runIds)];
    for (let i = 0; i < ids.length; i += IDS_PER_NOTICE) {
      const body = encodeRunIds(ids.slice(i, i + IDS_PER_NOTICE));
      this.safely(() => this.nc.publish(subject, body));
    }
  }

  private safely(fn: () => void): void {
    if (this.nc.isClosed() || this.nc.isDraining()) return;
    try {
      fn();
    } catch {
      // A notice is an optimisation; the durable state is in Postgres.
    }
  }
}

/** Watches of every change of their runs, or of their final state only. */
class NoticeListeners {
  private readonly nc: NatsConnection;
  private readonly subject: string;
  private readonly byRun = new Map<string, Set<() => void>>();
  private sub: Subscription | undefined;

  constructor(nc: NatsConnection, subject: string) {
    this.nc = nc;
    this.subject = subject;
  }

  add(runId: string, notify: () => void): () => void {
    let set = this.byRun.get(runId);
    if (!set) {
      set = new Set();
      this.byRun.set(runId, set);
    }
    set.add(notify);
    this.sub ??= this.nc.subscribe(this.subject, { callback: (_err, msg) => this.deliver(msg.data) });
    return () => {
      const watchers = this.byRun.get(runId);
      watchers?.delete(notify);
      if (watchers?.size === 0) this.byRun.delete(runId);
      if (this.byRun.size === 0 && this.sub) {
        this.sub.unsubscribe();
        this.sub = undefined;
      }
    };
  }

  get size(): number {
    return this.byRun.size;
  }

  get subscribed(): boolean {
    return this.sub !== undefined;
  }

  private deliver(data: Uint8Array): void {
    if (this.byRun.size === 0) return;
    for (const id of decodeRunIds(data)) {
      const watchers = this.byRun.get(id);
      if (watchers) for (const notify of watchers) notify();
    }
  }
}

/**
 * The watches a replica serves, by run: subscribed to the change notices while it serves a watch
 * of every change, and to the end notices while it serves a watch of a final state.
 */
export class RunWatches {
  private readonly changes: NoticeListeners;
  private readonly ends: NoticeListeners;

  constructor(nc: NatsConnection, prefix: string) {
    this.changes = new NoticeListeners(nc, runChangesSubject(prefix));
    this.ends = new NoticeListeners(nc, runEndsSubject(prefix));
  }

  /**
   * Calls `notify` on every notice naming `runId` (with `finalOnly`, every notice that it ended)
   * until the returned function is called.
   */
  watch(runId: string, notify: () => void, finalOnly = false): () => void {
    return (finalOnly ? this.ends : this.changes).add(runId, notify);
  }

  /** Watched runs (for tests). */
  get size(): number {
    return this.changes.size + this.ends.size;
  }

  /** Which notice subjects this replica listens to (for tests). */
  get subscriptions(): { changes: boolean; ends: boolean } {
    return { changes: this.changes.subscribed, ends: this.ends.subscribed };
  }
}
