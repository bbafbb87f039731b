// The JetStream stream of step tasks and its per-shard durable pull consumers, created idempotently.
import { AckPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { shardConsumer, taskStream, taskSubject } from "@weft/runtime";

export interface TaskStreamOptions {
  ackWaitMs?: number;
  replicas?: number;
}

export async function ensureTaskStream(
  jsm: JetStreamManager,
  prefix: string,
  shards: number,
  options: TaskStreamOptions = {},
): Promise<void> {
  const name = taskStream(prefix);
  const config = {
    name,
    subjects: [`${prefix}.tasks.*`],
    storage: StorageType.File,
    num_replicas: options.replicas ?? 1,
    retention: RetentionPolicy.Workqueue,
    duplicate_window: nanos(120_000),
  };
  try {
    // An existing stream (made by another journal replica or an executor) is left as it is.
    await jsm.streams.info(name);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    await jsm.streams.add(config).catch((addErr: Error) => {
      if (!/already in use|already exists/i.test(addErr.message)) throw addErr;
    });
  }
  const existing = new Set<string>();
  for await (const info of jsm.consumers.list(name)) existing.add(info.name);
  await Promise.all(
    Array.from({ length: shards }, (_, shard) => {
      const durable = shardConsumer(prefix, shard);
      if (existing.has(durable)) return undefined;
      return jsm.consumers
        .add(name, {
          durable_name: durable,
          filter_subject: taskSubject(prefix, shard),
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(options.ackWaitMs ?? 30_000),
          max_deliver: -1,
          max_ack_pending: 20_000,
        })
        .catch((err: Error) => {
          // An executor may have created it at the same moment.
          if (!/already in use|already exists/i.test(err.message)) throw err;
        });
    }),
  );
}
