// Pulls one shard's tasks: a loop of JetStream fetches on the shard's durable pull consumer, each
// sized by the room backpressure grants. Stopping ends the loop after the pull in progress expires;
// a message that arrives after the stop is given back (nak) for another executor. A pull that
// brought messages is a `receive` span (started lazily at the first message, so empty polls leave
// no span), linked from each execution it started.
import { setTimeout as sleep } from "node:timers/promises";
import { AckPolicy, type Consumer, type JetStreamClient, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ROOT_CONTEXT, type Span, type SpanContext, SpanKind } from "@opentelemetry/api";
import { type Logger, shardConsumer, taskStream, taskSubject } from "@weft/runtime";
import type { Backpressure } from "./backpressure.ts";
import type { ExecutorMetrics } from "./metrics.ts";
import { failSpan, linkableContext, tracer } from "./tracing.ts";

export interface ShardConsumerOptions {
  shard: number;
  prefix: string;
  js: JetStreamClient;
  backpressure: Backpressure;
  /** Largest pull. */
  fetchBatch: number;
  fetchExpiresMs: number;
  logger: Logger;
  /** Takes ownership of a received task message (must ack or nak it eventually). */
  deliver(msg: JsMsg, receive: SpanContext | undefined): void;
  metrics?: Pick<ExecutorMetrics, "fetchSize" | "fetchFailures">;
}

const DEFAULT_ACK_WAIT_MS = 30_000;
/** Size of a pull on a quiet shard. */
const MIN_PULL = 8;

/**
 * Creates the shard's durable consumer if the journal has not yet (same settings as the journal),
 * and returns its ack_wait in ms: the keep-alive must call `working()` well within it.
 */
export async function ensureShardConsumer(nc: NatsConnection, prefix: string, shard: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const name = shardConsumer(prefix, shard);
  try {
    const info = await jsm.consumers.info(taskStream(prefix), name);
    return Math.floor((info.config.ack_wait ?? DEFAULT_ACK_WAIT_MS * 1e6) / 1e6);
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message)) throw err;
  }
  const info = await jsm.consumers.add(taskStream(prefix), {
    durable_name: name,
    filter_subject: taskSubject(prefix, shard),
    ack_policy: AckPolicy.Explicit,
    ack_wait: DEFAULT_ACK_WAIT_MS * 1_000_000,
    max_deliver: -1,
    max_ack_pending: 20_000,
  });
  return Math.floor((info.config.ack_wait ?? DEFAULT_ACK_WAIT_MS * 1e6) / 1e6);
}

export class ShardConsumer {
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private readonly options: ShardConsumerOptions;
  /** Messages received (for tests and metrics). */
  received = 0;

  constructor(options: ShardConsumerOptions) {
    this.options = options;
  }

  get shard(): number {
    return this.options.shard;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops pulling; resolves once the pull in progress has ended (at most fetchExpiresMs). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { shard, prefix, js, backpressure, fetchBatch, fetchExpiresMs, logger } = this.options;
    const signal = this.stopping.signal;
    let consumer: Consumer | undefined;
    let failures = 0;
    // Adaptive pull size: an open pull holds its reservation until it fills or expires, so a quiet
    // shard asks for little (leaving room to busy shards) and a shard whose pulls fill up doubles
    // its next pull, up to fetchBatch.
    let want = Math.min(MIN_PULL, fetchBatch);
    while (!signal.aborted) {
      const granted = await backpressure.reserve(want, signal);
      if (granted === 0) break;
      let got = 0;
      let span: Span | undefined;
      let receive: SpanContext | undefined;
      const pulledAt = Date.now();
      try {
        consumer ??= await js.consumers.get(taskStream(prefix), shardConsumer(prefix, shard));
        const messages = await consumer.fetch({ max_messages: granted, expires: fetchExpiresMs });
        for await (const msg of messages) {
          if (got === 0) {
            span = this.startReceiveSpan(pulledAt, granted);
            receive = linkableContext(span);
          }
          got++;
          backpressure.consume();
          this.received++;
          if (signal.aborted) {
            msg.nak();
            continue;
          }
          this.options.deliver(msg, receive);
        }
        failures = 0;
        want = got >= granted ? Math.min(fetchBatch, granted * 2) : Math.min(fetchBatch, Math.max(MIN_PULL, got));
        this.options.metrics?.fetchSize.observe(got);
      } catch (err) {
        failures++;
        consumer = undefined;
        this.options.metrics?.fetchFailures.inc();
        if (span) failSpan(span, err);
        logger.warn({ err, shard }, "pulling tasks failed; retrying");
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)), undefined, { signal }).catch(() => {});
      } finally {
        backpressure.unreserve(granted - got);
        if (span) {
          span.setAttribute("messaging.batch.message_count", got);
          span.end();
        }
      }
    }
  }

  private startReceiveSpan(startTime: number, requested: number): Span {
    const { prefix, shard } = this.options;
    return tracer.startSpan(
      `receive ${taskSubject(prefix, shard)}`,
      {
        kind: SpanKind.CLIENT,
        startTime,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": "receive",
          "messaging.operation.name": "fetch",
          "messaging.destination.name": taskSubject(prefix, shard),
          "messaging.consumer.group.name": shardConsumer(prefix, shard),
          "weft.fetch.requested": requested,
          "weft.shard": shard,
        },
      },
      ROOT_CONTEXT,
    );
  }
}
