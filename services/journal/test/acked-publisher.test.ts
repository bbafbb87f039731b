// The task publisher's JetStream path against a real nats-server: acks, duplicates by message id,
// a subject no stream captures, a responder that never acks, and publishing after close.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { createTestPrefix, type TestPrefix } from "@weft/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckedPublisher } from "../src/acked-publisher.ts";

let nats: TestPrefix;
let nc: NatsConnection;
let stream: string;

beforeAll(async () => {
  nats = await createTestPrefix("acked-publisher");
  nc = await connect({ servers: nats.natsUrl });
  stream = `${nats.prefix}_acks`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${nats.prefix}.acked.>`] });
});

afterAll(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(stream).catch(() => {});
  await nc.close();
  await nats.cleanup();
});

describe("AckedPublisher", () => {
  it("resolves each publish with its stream sequence and stores the message id once", async () => {
    const publisher = new AckedPublisher(nc);
    try {
      const acks = await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          publisher.publish(`${nats.prefix}.acked.${i % 4}`, new TextEncoder().encode(`m${i}`), `id-${i}`, headers()),
        ),
      );
      expect(acks.every((a) => a.stream === stream && !a.duplicate)).toBe(true);
      expect(new Set(acks.map((a) => a.seq)).size).toBe(500);
      const again = await publisher.publish(`${nats.prefix}.acked.0`, new Uint8Array([1]), "id-7", headers());
      expect(again).toMatchObject({ stream, duplicate: true, seq: acks[7]?.seq });
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info(stream)).state.messages).toBe(500);
      expect(publisher.inFlight).toBe(0);
    } finally {
      publisher.close();
    }
  });

  it("rejects a publish no stream captures, and one nobody acks within the timeout", async () => {
    const publisher = new AckedPublisher(nc, 300);
    const silent = nc.subscribe(`${nats.prefix}.silent`, { callback: () => {} });
    try {
      await expect(publisher.publish(`${nats.prefix}.nowhere`, new Uint8Array([1]), "x", headers())).rejects.toThrow(
        /503/,
      );
      await nc.flush();
      await expect(publisher.publish(`${nats.prefix}.silent`, new Uint8Array([1]), "y", headers())).rejects.toThrow(
        /no ack within 300 ms/,
      );
      expect(publisher.inFlight).toBe(0);
    } finally {
      silent.unsubscribe();
      publisher.close();
    }
  });

  it("fails what is still waiting when closed, and every later publish", async () => {
    const publisher = new AckedPublisher(nc, 60_000);
    const silent = nc.subscribe(`${nats.prefix}.silent2`, { callback: () => {} });
    await nc.flush();
    const waiting = publisher.publish(`${nats.prefix}.silent2`, new Uint8Array([1]), "z", headers());
    publisher.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(publisher.publish(`${nats.prefix}.acked.1`, new Uint8Array([1]), "w", headers())).rejects.toThrow(
      /closed/,
    );
    silent.unsubscribe();
  });
});
