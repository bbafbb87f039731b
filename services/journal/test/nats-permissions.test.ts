// deploy/nats/auth.conf, exactly as shipped, on a private nats-server: the journal's user creates
// the task stream and publishes tasks; the executor's user pulls and acks its shard consumer but
// cannot publish a task or delete the stream, and hears run ends but not run changes; the
// coordinator's user gets wake-ups and nothing
// else; anonymous and unknown connections are refused.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  connectNats,
  runChangesSubject,
  runEndsSubject,
  shardConsumer,
  taskStream,
  taskSubject,
  wakeSubject,
} from "@weft/runtime";
import { type PrivateNatsServer, startNatsServer } from "@weft/testkit";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ensureTaskStream } from "../src/task-stream.ts";

const authConf = readFileSync(fileURLToPath(new URL("../../../deploy/nats/auth.conf", import.meta.url)), "utf8");
const PREFIX = "weft"; // auth.conf grants subjects of the default prefix
const passwords = {
  journal: `p${randomBytes(12).toString("hex")}`,
  executor: `p${randomBytes(12).toString("hex")}`,
  coordinator: `p${randomBytes(12).toString("hex")}`,
};

let server: PrivateNatsServer;
const open: NatsConnection[] = [];
const as = async (user: keyof typeof passwords) => {
  const nc = await connectNats(
    server.url,
    `test ${user}`,
    { maxReconnectAttempts: 0 },
    { user, password: passwords[user] },
  );
  open.push(nc);
  return nc;
};

/** The next permission violation the server reports on this connection. */
async function nextViolation(nc: NatsConnection): Promise<string> {
  for await (const s of nc.status()) {
    if (s.type === "error" && s.error.name === "PermissionViolationError") return s.error.message;
  }
  throw new Error("connection closed without a permission violation");
}

beforeAll(async () => {
  server = await startNatsServer({
    files: { "auth.conf": authConf },
    config: "include ./auth.conf",
    env: {
      WEFT_NATS_JOURNAL_PASSWORD: passwords.journal,
      WEFT_NATS_EXECUTOR_PASSWORD: passwords.executor,
      WEFT_NATS_COORDINATOR_PASSWORD: passwords.coordinator,
    },
  });
});
afterAll(async () => {
  await Promise.allSettled(open.map((nc) => nc.close()));
  await server?.stop();
});

/** Sequence of the last message the task stream accepted (work-queue: acked messages go away). */
const lastSeq = async (nc: NatsConnection) =>
  (await (await jetstreamManager(nc)).streams.info(taskStream(PREFIX))).state.last_seq;

describe("NATS users and subject permissions (deploy/nats/auth.conf)", () => {
  test("journal: creates the stream and consumers, publishes tasks, wake-ups and run notices", async () => {
    const nc = await as("journal");
    await ensureTaskStream(await jetstreamManager(nc), PREFIX, 2, { ackWaitMs: 30_000, replicas: 1 });
    const ack = await jetstream(nc).publish(taskSubject(PREFIX, 0), new Uint8Array([1]), { msgID: "task-1" });
    expect(ack.seq).toBe(1);
    nc.publish(wakeSubject(PREFIX));
    nc.publish(`${PREFIX}.run.0190aaaa-0000-7000-8000-000000000001`);
    await nc.flush();
    expect(await lastSeq(nc)).toBe(1);
  });

  test("executor: pulls and acks its shard consumer, but publishing a task is a permission violation", async () => {
    const nc = await as("executor");
    const consumer = await jetstream(nc).consumers.get(taskStream(PREFIX), shardConsumer(PREFIX, 0));
    const batch = await consumer.fetch({ max_messages: 1, expires: 2_000 });
    const seen: number[] = [];
    for await (const m of batch) {
      seen.push(m.seq);
      await m.ackAck();
    }
    expect(seen).toEqual([1]);
    expect((await consumer.info()).num_ack_pending).toBe(0);

    const violation = nextViolation(nc);
    nc.publish(taskSubject(PREFIX, 0), new Uint8Array([2]));
    expect(await violation).toMatch(/Permissions Violation for Publish to "weft\.tasks\.0"/);
    // Nothing reached the stream.
    expect(await lastSeq(await as("journal"))).toBe(1);
  });

  test("executor: cannot delete the stream or read run changes; hears run ends", async () => {
    const nc = await as("executor");
    const jsm = await jetstreamManager(nc, { timeout: 1_000, checkAPI: false });
    await expect(jsm.streams.delete(taskStream(PREFIX))).rejects.toThrow();
    const violation = nextViolation(nc);
    nc.subscribe(runChangesSubject(PREFIX));
    expect(await violation).toMatch(/Permissions Violation for Subscription to "weft\.run\.changes"/);
    expect(await lastSeq(await as("journal"))).toBe(1);
    // The ends of runs, which stop their running steps.
    const ends = nc.subscribe(runEndsSubject(PREFIX), { max: 1 });
    await nc.flush();
    (await as("journal")).publish(runEndsSubject(PREFIX), new TextEncoder().encode("run-1"));
    for await (const m of ends) expect(new TextDecoder().decode(m.data)).toBe("run-1");
  });

  test("coordinator: receives wake-ups; may publish nothing", async () => {
    const nc = await as("coordinator");
    const wake = nc.subscribe(wakeSubject(PREFIX), { max: 1 });
    await nc.flush();
    const journal = await as("journal");
    journal.publish(wakeSubject(PREFIX));
    for await (const m of wake) expect(m.subject).toBe("weft.wake");
    const violation = nextViolation(nc);
    nc.publish(taskSubject(PREFIX, 1), new Uint8Array([3]));
    expect(await violation).toMatch(/Permissions Violation for Publish to "weft\.tasks\.1"/);
  });

  test("clients have no NATS access: anonymous, unknown users and wrong passwords are refused", async () => {
    const refused = async (options: { user?: string; pass?: string; token?: string }) => {
      try {
        const nc = await connect({ servers: server.url, maxReconnectAttempts: 0, ...options });
        await nc.close();
        return "connected";
      } catch (err) {
        return (err as Error).name;
      }
    };
    expect(await refused({})).toBe("AuthorizationError");
    expect(await refused({ user: "client", pass: "anything" })).toBe("AuthorizationError");
    expect(await refused({ user: "executor", pass: "wrong" })).toBe("AuthorizationError");
    expect(await refused({ token: passwords.journal })).toBe("AuthorizationError");
  });
});
