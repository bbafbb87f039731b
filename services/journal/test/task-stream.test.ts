// The task stream: memory-backed by default, and re-created by the journal when NATS loses it, with
// every dispatched task republished at once (dispatch + 1) rather than after the dispatch timeout
// (60 s here, so the sweeper is never what republishes). Three ways to lose it: deleted under a
// running journal (its next publish is answered "no responders"), lost while the journal was down,
// and a restart of a private nats-server (the journal notices on reconnect, with no publish).
import { fromBinary } from "@bufbuild/protobuf";
import { type JetStreamManager, jetstream, jetstreamManager, StorageType } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type StepTask, StepTaskSchema } from "@weft/contracts";
import { createLogger, shardConsumer, taskStream } from "@weft/runtime";
import { startNatsServer } from "@weft/testkit";
import { afterEach, describe, expect, test } from "vitest";
import { startJournal } from "../src/index.ts";
import { dispatchOne, eventually, type Harness, startHarness, takeAllTasks } from "./harness.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(name: string, overrides: Parameters<typeof startHarness>[1] = {}): Promise<Harness> {
  const h = await startHarness(name, { dispatchTimeoutMs: 60_000, ...overrides });
  cleanups.push(() => h.close());
  await h.internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
  return h;
}

const dispatches = async (h: Harness, ids: string[]) =>
  (await h.query<{ id: string; dispatch: number }>("SELECT id, dispatch FROM steps WHERE id = ANY($1)", [ids])).map(
    (r) => [r.id, r.dispatch],
  );

/** Waits for the re-created stream and every shard consumer (the stream comes back first). */
async function streamBack(h: Harness, jsm: JetStreamManager): Promise<void> {
  await eventually(async () => {
    const info = await jsm.streams.info(taskStream(h.env.prefix)).catch(() => undefined);
    return info !== undefined && info.state.consumer_count === h.config.shards;
  }, 10_000);
}

describe("storage", () => {
  test("the task stream is memory-backed by default and file-backed with taskStorage file", async () => {
    const memory = await harness("task stream memory");
    const file = await harness("task stream file", { taskStorage: "file" });
    const jsm = await jetstreamManager(memory.nc);
    expect((await jsm.streams.info(taskStream(memory.env.prefix))).config.storage).toBe(StorageType.Memory);
    expect((await jsm.streams.info(taskStream(file.env.prefix))).config.storage).toBe(StorageType.File);
  });
});

describe("a lost task stream", () => {
  test("deleted under a running journal: the next publish fails, the stream is re-created, every dispatched task republished", async () => {
    const h = await harness("task stream deleted");
    const { stepId: first } = await dispatchOne(h, "before the loss");
    const jsm = await jetstreamManager(h.nc);
    expect((await jsm.streams.info(taskStream(h.env.prefix))).state.messages).toBe(1);
    await jsm.streams.delete(taskStream(h.env.prefix)); // the message of `first` is gone with it

    const { stepId: second } = await dispatchOne(h, "during the loss"); // its publish: no responders
    await streamBack(h, jsm);
    const tasks = await takeAllTasks(h, 2, 10_000);
    expect(tasks.map((t) => [t.task.stepId, t.task.dispatch]).sort()).toEqual(
      [
        [first, 2],
        [second, 2],
      ].sort(),
    );
    expect(tasks.map((t) => t.msgId).sort()).toEqual([`${first}.2`, `${second}.2`].sort());
    expect((await dispatches(h, [first, second])).sort()).toEqual(
      [
        [first, 2],
        [second, 2],
      ].sort(),
    );
    // Every shard's consumer is back, and nothing more was published.
    const info = await jsm.streams.info(taskStream(h.env.prefix));
    expect(info.state.consumer_count).toBe(h.config.shards);
    expect(await takeAllTasks(h, 1, 300)).toEqual([]);
    const recreations = await h.journal.metrics.registry.getSingleMetricAsString(
      "weft_journal_task_stream_recreations_total",
    );
    expect(recreations).toMatch(/weft_journal_task_stream_recreations_total\S* 1$/m);
  });

  test("lost while the journal was down: the journal that re-creates it at start republishes", async () => {
    const h = await harness("task stream lost while down");
    const { stepId: first } = await dispatchOne(h, "before the restart");
    await h.journal.stop();
    const jsm = await jetstreamManager(h.nc);
    await jsm.streams.delete(taskStream(h.env.prefix));

    const again = await startJournal(h.config, { logger: createLogger("journal-test", "warn") });
    cleanups.push(() => again.stop());
    const tasks = await takeAllTasks(h, 1, 10_000);
    expect(tasks.map((t) => [t.task.stepId, t.task.dispatch])).toEqual([[first, 2]]);
  });

  test("a NATS restart: the journal notices on reconnect, re-creates the stream and republishes, with no publish to prompt it", async () => {
    const nats = await startNatsServer();
    let server = nats;
    cleanups.push(() => server.stop());
    const h = await harness("task stream nats restart", { natsUrl: nats.url });
    const { stepId: first } = await dispatchOne(h, "before the restart");

    let reader: NatsConnection | undefined;
    cleanups.push(async () => {
      await reader?.close();
    });
    await nats.stop(); // a memory stream does not survive
    server = await startNatsServer({ port: nats.port });
    reader = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(reader);
    await streamBack(h, jsm);

    const js = jetstream(reader);
    const got: StepTask[] = await eventually(async () => {
      const found: StepTask[] = [];
      for (let shard = 0; shard < h.config.shards; shard++) {
        const consumer = await js.consumers.get(taskStream(h.env.prefix), shardConsumer(h.env.prefix, shard));
        if ((await consumer.info()).num_pending === 0) continue;
        for await (const m of await consumer.fetch({ max_messages: 10, expires: 1000 })) {
          found.push(fromBinary(StepTaskSchema, m.data));
          m.ack();
        }
      }
      return found.length > 0 ? found : undefined;
    }, 10_000);
    expect(got.map((t) => [t.stepId, t.dispatch])).toEqual([[first, 2]]);
  });
});
