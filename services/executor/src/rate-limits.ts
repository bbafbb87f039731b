// Handler pauses shared by every executor. A handler that throws RateLimitError pauses that step
// name here and publishes a RateLimitNotice on `<prefix>.ratelimit`; every executor (this one
// included) pauses the name until the notice's time. Tasks of a paused step wait before their next
// attempt; the rate-limited attempt is not counted.
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { RateLimitNoticeSchema, timestampMs, toTimestamp } from "@weft/contracts";
import { type Logger, rateLimitSubject } from "@weft/runtime";

/** Longest pause one notice may impose, so a bogus retry-after cannot park a handler for days. */
export const MAX_PAUSE_MS = 15 * 60_000;
/** Shortest pause, so a handler that says "retry after 0 ms" cannot spin. */
export const MIN_PAUSE_MS = 50;

export interface RateLimitsOptions {
  nc: NatsConnection;
  prefix: string;
  executorId: string;
  logger: Logger;
}

export class RateLimits {
  private readonly until = new Map<string, number>();
  private subscription: Subscription | undefined;
  private readonly options: RateLimitsOptions;

  constructor(options: RateLimitsOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { nc, prefix, logger } = this.options;
    this.subscription = nc.subscribe(rateLimitSubject(prefix), {
      callback: (err, msg) => {
        if (err) {
          logger.warn({ err }, "rate-limit subscription error");
          return;
        }
        try {
          const notice = fromBinary(RateLimitNoticeSchema, msg.data);
          const until = timestampMs(notice.until);
          if (notice.stepName && until !== undefined) this.pause(notice.stepName, until);
        } catch (err) {
          logger.warn({ err }, "ignoring malformed rate-limit notice");
        }
      },
    });
    // The subscription must be registered on the server before a peer's notice can reach us.
    await nc.flush();
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  /** Pauses `stepName` here and on every other executor for `retryAfterMs`. */
  report(stepName: string, retryAfterMs: number): void {
    const until = Date.now() + Math.min(Math.max(MIN_PAUSE_MS, retryAfterMs), MAX_PAUSE_MS);
    this.pause(stepName, until);
    const { nc, prefix, executorId, logger } = this.options;
    const notice = create(RateLimitNoticeSchema, { stepName, until: toTimestamp(until), executorId });
    try {
      nc.publish(rateLimitSubject(prefix), toBinary(RateLimitNoticeSchema, notice));
    } catch (err) {
      logger.warn({ err, stepName }, "could not publish rate-limit notice");
    }
    logger.info({ stepName, retryAfterMs }, "handler rate-limited; paused on every executor");
  }

  /** Epoch ms until which `stepName` is paused, or undefined. */
  pausedUntil(stepName: string, now = Date.now()): number | undefined {
    const until = this.until.get(stepName);
    if (until === undefined) return undefined;
    if (until <= now) {
      this.until.delete(stepName);
      return undefined;
    }
    return until;
  }

  /** Resolves when `stepName` is not paused (re-checking, since a later notice may extend it). */
  async waitUntilOpen(stepName: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const until = this.pausedUntil(stepName);
      if (until === undefined) return;
      await sleep(until - Date.now(), undefined, { signal });
    }
  }

  private pause(stepName: string, until: number): void {
    const capped = Math.min(until, Date.now() + MAX_PAUSE_MS);
    const current = this.until.get(stepName) ?? 0;
    if (capped > current) this.until.set(stepName, capped);
  }
}
