// `pnpm bench:raw`: the raw rates of this machine's Postgres and JetStream from one Node process,
// the ceiling Weft's own figures are read against. Each measurement uses its own database or
// stream prefix and cleans up after itself.
//   JetStream: async publish (file storage, one stream), fetch + ack, both at once
//   Postgres:  200-row INSERT and UPDATE statements, single-row commits from 16 clients
import { randomUUID } from "node:crypto";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createTestEnvironment } from "@weft/testkit";
import { Command } from "commander";
import pg from "pg";
import { int } from "./options.ts";

const opts = new Command("weft-bench-raw")
  .description("Raw Postgres and JetStream rates on this machine, from one Node process.")
  .option("-n, --messages <n>", "JetStream messages per measurement", int("--messages", 1), 100_000)
  .option("--rows <n>", "Postgres rows per measurement", int("--rows", 1), 200_000)
  .parse()
  .opts<{ messages: number; rows: number }>();

const out = (line = "") => process.stdout.write(`${line}\n`);
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const payload = new Uint8Array(200).fill(120);

async function jetStreamRates(natsUrl: string, prefix: string) {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const stream = `${prefix}_raw`;
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.raw.>`] });
  const n = opts.messages;
  try {
    // Async publish: up to 1,000 unacknowledged publishes in flight.
    let started = performance.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < n; i++) {
      const p = js.publish(`${prefix}.raw.${i % 16}`, payload);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 1000) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const publish = rate(n, performance.now() - started);

    // Fetch + ack with a durable pull consumer, batches of 500.
    await jsm.consumers.add(stream, { durable_name: "raw", ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(stream, "raw");
    started = performance.now();
    let got = 0;
    while (got < n) {
      const batch = await consumer.fetch({ max_messages: Math.min(500, n - got), expires: 2_000 });
      for await (const m of batch) {
        m.ack();
        got++;
      }
    }
    const fetchAck = rate(n, performance.now() - started);

    // Both at once: a publisher and a consumer in the same process.
    await jsm.streams.purge(stream);
    started = performance.now();
    const publishing = (async () => {
      for (let i = 0; i < n; i++) {
        const p = js.publish(`${prefix}.raw.${i % 16}`, payload);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        if (inFlight.size >= 1000) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();
    got = 0;
    while (got < n) {
      const batch = await consumer.fetch({ max_messages: Math.min(500, n - got), expires: 2_000 });
      for await (const m of batch) {
        m.ack();
        got++;
      }
    }
    await publishing;
    const both = rate(n, performance.now() - started);
    return { messages: n, publishPerSecond: publish, fetchAckPerSecond: fetchAck, bothPerSecond: both };
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

async function postgresRates(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 16 });
  const rows = opts.rows;
  try {
    await pool.query("CREATE TABLE raw_rows (id uuid PRIMARY KEY, n int NOT NULL, payload bytea)");
    const ids = Array.from({ length: rows }, () => randomUUID());
    const chunk = 200;
    const blob = Buffer.from(payload);
    let started = performance.now();
    for (let i = 0; i < rows; i += chunk) {
      const part = ids.slice(i, i + chunk);
      await pool.query("INSERT INTO raw_rows (id, n, payload) SELECT id, 0, $2 FROM unnest($1::uuid[]) AS t(id)", [
        part,
        blob,
      ]);
    }
    const insert = rate(rows, performance.now() - started);
    started = performance.now();
    for (let i = 0; i < rows; i += chunk) {
      await pool.query("UPDATE raw_rows SET n = n + 1 WHERE id = ANY($1::uuid[])", [ids.slice(i, i + chunk)]);
    }
    const update = rate(rows, performance.now() - started);
    // Single-row commits from 16 clients (synchronous_commit on: each one a WAL flush, grouped).
    const commits = Math.min(rows, 20_000);
    let next = 0;
    started = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < commits) {
          const id = ids[next++ % ids.length];
          await pool.query("UPDATE raw_rows SET n = n + 1 WHERE id = $1", [id]);
        }
      }),
    );
    const single = rate(commits, performance.now() - started);
    return { rows, insert200PerSecond: insert, update200PerSecond: update, singleRowCommitsPerSecond: single };
  } finally {
    await pool.end();
  }
}

const env = await createTestEnvironment("bench_raw");
try {
  const js = await jetStreamRates(env.natsUrl, env.prefix);
  out(
    `JetStream (${js.messages} msgs of 200 B): async publish ${js.publishPerSecond}/s · fetch+ack ${js.fetchAckPerSecond}/s · both at once ${js.bothPerSecond}/s`,
  );
  const db = await postgresRates(env.databaseUrl);
  out(
    `Postgres (${db.rows} rows): 200-row INSERT ${db.insert200PerSecond} rows/s · 200-row UPDATE ${db.update200PerSecond} rows/s · single-row commits (16 clients) ${db.singleRowCommitsPerSecond}/s`,
  );
} finally {
  await env.cleanup();
}
