// Test fixtures of the executor: the task stream of a private prefix on the real NATS server, task
// publishing, and a journal peer (a real Connect server implementing JournalService) whose
// behaviour each test controls. The real journal is used by the crash tests.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  encodePayload,
  JournalService,
  ResultStatus,
  StepKind,
  type StepResult,
  type StepTask,
  StepTaskSchema,
  toTimestamp,
} from "@weft/contracts";
import { createLogger, type RunningServer, shardConsumer, startServer, taskStream, taskSubject } from "@weft/runtime";
import { createJournalClient } from "../src/journal-client.ts";

export const testLogger = () => createLogger("executor-test", process.env.WEFT_TEST_LOG_LEVEL ?? "silent");

/** Creates the prefix's task stream and shard consumers the way the journal does. */
export async function createTaskStream(
  nc: NatsConnection,
  prefix: string,
  shards: number,
  ackWaitMs = 30_000,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: taskStream(prefix),
    subjects: [`${prefix}.tasks.*`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 120_000_000_000,
  });
  for (let shard = 0; shard < shards; shard++) {
    await jsm.consumers.add(taskStream(prefix), {
      durable_name: shardConsumer(prefix, shard),
      filter_subject: taskSubject(prefix, shard),
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitMs * 1_000_000,
      max_deliver: -1,
    });
  }
}

let counter = 0;

export function makeTask(fields: Partial<Omit<StepTask, "args">> & { stepName: string; args?: unknown }): StepTask {
  counter++;
  const id = (n: number) =>
    `0190${n.toString(16).padStart(4, "0")}-0000-7000-8000-${String(counter).padStart(12, "0")}`;
  const { args, ...rest } = fields;
  return create(StepTaskSchema, {
    stepId: id(1),
    runId: id(2),
    generation: 1,
    seq: 1,
    workflowName: "wf",
    kind: StepKind.QUERY,
    shard: 0,
    dispatch: 1,
    createdAt: toTimestamp(Date.now()),
    ...rest,
    args: encodePayload(args ?? null),
  });
}

export async function publishTasks(nc: NatsConnection, prefix: string, tasks: StepTask[]): Promise<void> {
  const js = jetstream(nc);
  await Promise.all(
    tasks.map((t) =>
      js.publish(taskSubject(prefix, t.shard), toBinary(StepTaskSchema, t), { msgID: `${t.stepId}.${t.dispatch}` }),
    ),
  );
}

/** Messages still in the shard consumer: not yet delivered, and delivered but unacked. */
export async function consumerState(nc: NatsConnection, prefix: string, shard: number) {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.consumers.info(taskStream(prefix), shardConsumer(prefix, shard));
  return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
}

export interface FakeJournal {
  readonly url: string;
  readonly client: ReturnType<typeof createJournalClient>;
  /** Every result recorded, in order (first outcome per step, like the real journal). */
  readonly recorded: Map<string, StepResult>;
  /** Size of each RecordResultBatch call that succeeded. */
  readonly batches: number[];
  /** How often each step's outcome arrived (more than 1 = a duplicate execution reported). */
  readonly deliveries: Map<string, number>;
  readonly heartbeats: string[][];
  /** Throws from RecordResultBatch while it returns true. */
  failRecord: (results: StepResult[]) => boolean;
  /** Delay of each RecordResultBatch call. */
  recordDelayMs: number;
  /** Steps reported finished by HeartbeatSteps. */
  finished: Set<string>;
  /** Shards leased to an executor id (default: all `shardCount`). */
  shardsFor: (executorId: string) => number[];
  shardCount: number;
  /** LeaseShards fails while true (the journal is unreachable for leases). */
  failLeases: boolean;
  waitForResults(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeJournal(prefix: string, shardCount = 1): Promise<FakeJournal> {
  let server: RunningServer | undefined;
  const waiters: (() => void)[] = [];
  const fake: Omit<FakeJournal, "url" | "client" | "close"> = {
    recorded: new Map(),
    batches: [],
    deliveries: new Map(),
    heartbeats: [],
    failRecord: () => false,
    recordDelayMs: 0,
    finished: new Set(),
    shardsFor: () => [...Array(fake.shardCount).keys()],
    shardCount,
    failLeases: false,
    waitForResults: (n, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`only ${fake.recorded.size} of ${n} results recorded`)),
          timeoutMs,
        );
        const check = () => {
          if (fake.recorded.size >= n) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      }),
  };
  const impl: Partial<ServiceImpl<typeof JournalService>> = {
    registerWorker: () => ({ shardCount: fake.shardCount, subjectPrefix: prefix }),
    leaseShards: (req) => {
      if (fake.failLeases) throw new ConnectError("journal unavailable (test)", Code.Unavailable);
      const shards = req.release.length > 0 ? [] : fake.shardsFor(req.executorId);
      return {
        leases: shards.map((shard) => ({ shard, token: 1n, expiresAt: toTimestamp(Date.now() + req.leaseMs) })),
        shardCount: fake.shardCount,
        liveExecutors: 1,
      };
    },
    heartbeatSteps: (req) => {
      fake.heartbeats.push(req.stepIds);
      return { finishedStepIds: req.stepIds.filter((id) => fake.finished.has(id)) };
    },
    recordResultBatch: async (req) => {
      if (fake.recordDelayMs > 0) await new Promise((r) => setTimeout(r, fake.recordDelayMs));
      if (fake.failRecord(req.results)) throw new ConnectError("journal unavailable (test)", Code.Unavailable);
      fake.batches.push(req.results.length);
      const acks = req.results.map((r) => {
        fake.deliveries.set(r.stepId, (fake.deliveries.get(r.stepId) ?? 0) + 1);
        const duplicate = fake.recorded.has(r.stepId);
        if (!duplicate) fake.recorded.set(r.stepId, r);
        return { stepId: r.stepId, status: duplicate ? ResultStatus.DUPLICATE : ResultStatus.RECORDED };
      });
      for (const w of waiters.splice(0)) w();
      return { acks };
    },
  };
  server = await startServer({
    port: 0,
    host: "127.0.0.1",
    routes: (router) => router.service(JournalService, impl),
    services: [],
  });
  const url = `http://127.0.0.1:${server.port}`;
  return Object.assign(fake, {
    url,
    client: createJournalClient(url),
    close: () => server.close(100),
  }) as FakeJournal;
}
