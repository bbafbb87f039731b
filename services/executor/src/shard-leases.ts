// Keeps this executor's shard leases: LeaseShards every lease_ms/3, following the set the journal
// returns (it balances shards across live executors). Shards gained or lost are reported to the
// listener; a lease that could not be renewed before it expired counts as lost. `stop()` releases
// every shard so another executor takes them over at once.

import { timestampMs } from "@weft/contracts";
import type { Logger } from "@weft/runtime";
import type { JournalClient } from "./journal-client.ts";

export interface ShardLeasesOptions {
  journal: Pick<JournalClient, "leaseShards">;
  executorId: string;
  leaseMs: number;
  logger: Logger;
  onChange(change: { gained: number[]; lost: number[] }): void;
}

export class ShardLeases {
  /** Shard → local expiry (epoch ms). */
  private readonly held = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;
  private readonly options: ShardLeasesOptions;
  shardCount = 0;

  constructor(options: ShardLeasesOptions) {
    this.options = options;
  }

  get shards(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Takes the first leases (errors propagate: an executor that cannot reach the journal does not start). */
  async start(): Promise<void> {
    await this.renew(true);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.renewing;
    const release = this.shards;
    if (release.length > 0) {
      try {
        await this.options.journal.leaseShards({
          executorId: this.options.executorId,
          leaseMs: this.options.leaseMs,
          release,
        });
      } catch (err) {
        // They expire after lease_ms anyway.
        this.options.logger.warn({ err, shards: release }, "could not release shard leases");
      }
    }
    this.apply(new Map());
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        this.renewing = this.renew(false).finally(() => {
          this.renewing = undefined;
          this.schedule();
        });
      },
      Math.floor(this.options.leaseMs / 3),
    );
    this.timer.unref();
  }

  private async renew(throwOnError: boolean): Promise<void> {
    const { journal, executorId, leaseMs, logger } = this.options;
    const sentAt = Date.now();
    try {
      const res = await journal.leaseShards({ executorId, leaseMs, release: [] });
      if (this.stopped) return;
      this.shardCount = res.shardCount;
      const next = new Map<number, number>();
      for (const lease of res.leases) {
        // Trust the local clock from when we asked, not the server's: clocks may drift.
        const serverExpiry = timestampMs(lease.expiresAt);
        next.set(
          lease.shard,
          serverExpiry === undefined ? sentAt + leaseMs : Math.min(sentAt + leaseMs, Math.max(serverExpiry, sentAt)),
        );
      }
      this.apply(next);
    } catch (err) {
      if (throwOnError) throw err;
      logger.warn({ err }, "renewing shard leases failed");
      // Leases we could not renew in time may already belong to someone else.
      const now = Date.now();
      const next = new Map([...this.held].filter(([, expiry]) => expiry > now));
      this.apply(next);
    }
  }

  private apply(next: Map<number, number>): void {
    const gained = [...next.keys()].filter((s) => !this.held.has(s));
    const lost = [...this.held.keys()].filter((s) => !next.has(s));
    this.held.clear();
    for (const [s, e] of next) this.held.set(s, e);
    if (gained.length > 0 || lost.length > 0) {
      this.options.logger.info({ gained, lost, shards: this.shards }, "shard leases changed");
      this.options.onChange({ gained, lost });
    }
  }
}
