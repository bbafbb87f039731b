// Retention at scale: 200k finished runs (with steps and events) inserted by batched SQL; the
// retention job deletes the old ones and everything that hangs off them, keeps the recent ones and
// the running ones, and the hot path's queries keep using their indexes at that size.
import { createLogger } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJournalMetrics, openDatabase, Retention } from "../src/index.ts";
import { type Harness, startHarness } from "./harness.ts";

const TOTAL = 200_000;
const RECENT = 10_000;
const OLD = TOTAL - RECENT;
const RUNNING = 2_000;
const STEPS_PER_RUN = 4;
const CHUNK = 20_000;

let h: Harness;
beforeAll(async () => {
  // The journal's own retention is off here: the test drives a Retention instance itself.
  h = await startHarness("journal retention 200k", {
    retention: { ageMs: 0, batch: 1, pauseMs: 0, intervalMs: 60_000 },
  });
}, 60_000);
afterAll(async () => {
  await h?.close();
});

/** Inserts runs [from, to) with their steps; `ageSql` is how long ago they ended. */
async function insertFinished(from: number, to: number, ageSql: string) {
  await h.query(`
    INSERT INTO runs (id, workflow_name, status, result, shard, ready, ready_at, generation, created_at, updated_at, completed_at)
    SELECT md5('run' || i)::uuid, 'pipeline', (ARRAY['completed','failed','canceled'])[1 + i % 3], '"ok"'::bytea, i % 4,
           false, NULL, 1, now() - interval '${ageSql}' - interval '1 minute', now() - interval '${ageSql}',
           now() - interval '${ageSql}' + (i % 1000) * interval '1 millisecond'
    FROM generate_series(${from}, ${to - 1}) AS i`);
  await h.query(`
    INSERT INTO steps (id, run_id, generation, seq, name, kind, status, result, attempt, shard, completion_order, created_at, completed_at)
    SELECT md5('step' || i || '.' || s)::uuid, md5('run' || i)::uuid, 1, s,
           (ARRAY['extract','analyzeA','analyzeB','summarize'])[s], 'action', 'completed', '1'::bytea, 1, i % 4,
           nextval('completion_order_seq'), now() - interval '${ageSql}', now() - interval '${ageSql}'
    FROM generate_series(${from}, ${to - 1}) AS i, generate_series(1, ${STEPS_PER_RUN}) AS s`);
  await h.query(`
    INSERT INTO events (id, run_id, name, payload, consumed_by_seq)
    SELECT md5('event' || i)::uuid, md5('run' || i)::uuid, 'approve', 'true'::bytea, 2
    FROM generate_series(${from}, ${to - 1}) AS i WHERE i % 10 = 0`);
}

/** Figures for the report (the test output), not assertions. */
const report = (text: string) => process.stdout.write(`${text}\n`);

const count = async (sqlText: string) => Number((await h.query<{ n: string }>(sqlText))[0]?.n);

/** The hot path's queries (as the journal runs them), with the values of a typical call. */
const hotPath: Record<string, string> = {
  "ClaimRuns (claim-runs.ts)": `
    SELECT id FROM runs
    WHERE status = 'running' AND ((ready AND lease_expires IS NULL) OR lease_expires < now())
      AND shard = ANY('{0,1,2,3}'::int[])
    ORDER BY ready_at NULLS LAST LIMIT 100 FOR UPDATE SKIP LOCKED`,
  "currentSteps (claim/commit)": `
    SELECT s.* FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
    WHERE s.run_id = ANY(ARRAY[md5('run1')::uuid, md5('run195001')::uuid]) ORDER BY s.run_id, s.seq`,
  "takeUndelivered (incremental claims)": `
    SELECT s.id FROM steps s JOIN runs r ON r.id = s.run_id AND r.generation = s.generation
    WHERE s.run_id = ANY(ARRAY[md5('run195001')::uuid, md5('live7')::uuid]) AND s.status <> 'running' AND NOT s.delivered`,
  "recordResults (RecordResultBatch)": `
    SELECT id, status, generation FROM steps WHERE id = ANY(ARRAY[md5('step195001.1')::uuid, md5('step7.2')::uuid])`,
  "markReady / fence (by run id)": `
    SELECT id FROM runs WHERE id = ANY(ARRAY[md5('run195001')::uuid, md5('run7')::uuid]) AND status = 'running'`,
  "sweeper (redispatchStale)": `
    SELECT id FROM steps
    WHERE status = 'running' AND kind IN ('query', 'mutation', 'action', 'on_complete')
      AND coalesce(heartbeat_at, dispatched_at) < now() - interval '60 seconds'
    ORDER BY coalesce(heartbeat_at, dispatched_at) LIMIT 500 FOR UPDATE SKIP LOCKED`,
  "timers (nextTimerDue)": `
    SELECT least((SELECT min(wake_at) FROM steps WHERE status = 'running' AND kind = 'sleep'),
                 (SELECT min(timeout_at) FROM steps WHERE status = 'running' AND kind = 'event' AND timeout_at IS NOT NULL))`,
  "ListWorkflows page (listing, migration 090)": `
    SELECT r.*, r.created_at::text AS created_text FROM run_listing l JOIN runs r ON r.id = l.id
    WHERE l.namespace = 'default' AND (l.created_at, l.id) < (now(), md5('run1')::uuid) AND r.status = ANY('{failed}'::text[])
    ORDER BY l.created_at DESC, l.id DESC LIMIT 51`,
  "retention batch (victims)": `
    SELECT id FROM runs WHERE status <> 'running' AND completed_at < now() - interval '7 days'
    ORDER BY completed_at LIMIT 1000 FOR UPDATE SKIP LOCKED`,
};

async function explainAll(label: string) {
  await h.query("ANALYZE runs; ANALYZE steps; ANALYZE events; ANALYZE run_listing");
  for (const [name, query] of Object.entries(hotPath)) {
    const plan = (await h.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query}`)).map((r) => r["QUERY PLAN"]).join("\n");
    report(`EXPLAIN [${label}] ${name}\n${plan}\n`);
    // At this size every hot-path query reads through an index, never a whole table.
    expect(plan, name).not.toMatch(/Seq Scan on (runs|steps|run_listing)/);
    expect(plan, name).toMatch(/Index/);
  }
}

describe("retention", () => {
  it(
    "deletes 190k old finished runs with their steps and events, keeps recent and running ones, hot path stays on indexes",
    async () => {
      const insertStart = performance.now();
      for (let from = 0; from < OLD; from += CHUNK) await insertFinished(from, Math.min(from + CHUNK, OLD), "8 days");
      await insertFinished(OLD, TOTAL, "1 hour");
      // Running runs with running steps: the hot path's rows, which retention must not touch.
      await h.query(`
        INSERT INTO runs (id, workflow_name, status, shard, ready, ready_at, created_at)
        SELECT md5('live' || i)::uuid, 'pipeline', 'running', i % 4, i % 2 = 0, now() - interval '9 days', now() - interval '9 days'
        FROM generate_series(1, ${RUNNING}) AS i`);
      await h.query(`
        INSERT INTO steps (id, run_id, generation, seq, name, kind, status, shard, dispatched_at, created_at)
        SELECT md5('livestep' || i)::uuid, md5('live' || i)::uuid, 1, 1, 'extract', 'action', 'running', i % 4, now(), now()
        FROM generate_series(1, ${RUNNING}) AS i`);
      const insertS = (performance.now() - insertStart) / 1000;
      const stepsBefore = await count("SELECT count(*) AS n FROM steps");
      const eventsBefore = await count("SELECT count(*) AS n FROM events");
      expect(await count("SELECT count(*) AS n FROM runs")).toBe(TOTAL + RUNNING);
      expect(stepsBefore).toBe(TOTAL * STEPS_PER_RUN + RUNNING);
      report(
        `inserted ${TOTAL} finished runs, ${stepsBefore} steps, ${eventsBefore} events in ${insertS.toFixed(1)} s`,
      );

      await explainAll("200k runs, before retention");

      const db = openDatabase(h.env.databaseUrl, 2);
      const metrics = createJournalMetrics();
      const settings = { ageMs: 7 * 24 * 3600 * 1000, batch: 1000, pauseMs: 50, intervalMs: 200 };
      const retention = new Retention({ db, metrics }, settings, createLogger("retention-test", "warn"));
      const deletedRuns = async () =>
        (await metrics.retentionDeleted.get()).values.find((v) => v.labels.table === "runs")?.value ?? 0;
      const started = performance.now();
      retention.start();
      try {
        const deadline = Date.now() + 15 * 60_000;
        while ((await deletedRuns()) < OLD) {
          if (Date.now() > deadline) throw new Error(`retention deleted only ${await deletedRuns()} of ${OLD} runs`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await retention.stop();
        await db.destroy();
      }
      const seconds = (performance.now() - started) / 1000;
      const byTable = Object.fromEntries(
        (await metrics.retentionDeleted.get()).values.map((v) => [v.labels.table, v.value]),
      );
      const rows = byTable.runs + byTable.steps + byTable.events;
      report(
        `retention: deleted ${byTable.runs} runs, ${byTable.steps} steps, ${byTable.events} events in ${seconds.toFixed(1)} s ` +
          `(batch ${settings.batch}, pause ${settings.pauseMs} ms): ${Math.round(byTable.runs / seconds)} runs/s, ${Math.round(rows / seconds)} rows/s`,
      );

      expect(byTable).toEqual({ runs: OLD, steps: OLD * STEPS_PER_RUN, events: OLD / 10 });
      expect(await count("SELECT count(*) AS n FROM runs WHERE status <> 'running'")).toBe(RECENT);
      expect(await count("SELECT count(*) AS n FROM runs WHERE status = 'running'")).toBe(RUNNING);
      expect(await count("SELECT count(*) AS n FROM steps")).toBe(RECENT * STEPS_PER_RUN + RUNNING);
      expect(await count("SELECT count(*) AS n FROM events")).toBe(RECENT / 10);
      // Nothing orphaned: every remaining step and event belongs to a remaining run.
      expect(await count("SELECT count(*) AS n FROM steps WHERE run_id NOT IN (SELECT id FROM runs)")).toBe(0);
      // The listing (triggers on runs) lost the deleted runs' rows with them, and kept the others'.
      expect(await count("SELECT count(*) AS n FROM run_listing")).toBe(RECENT + RUNNING);
      expect(await count("SELECT count(*) AS n FROM runs r JOIN run_listing l USING (id, namespace, created_at)")).toBe(
        RECENT + RUNNING,
      );
      expect(await count(`SELECT count(*) AS n FROM runs WHERE id = md5('run${OLD}')::uuid`)).toBe(1);
      expect(await count("SELECT count(*) AS n FROM runs WHERE id = md5('run0')::uuid")).toBe(0);

      await explainAll("after retention");
    },
    20 * 60_000,
  );

  it("takes turns across replicas: a batch is skipped while another replica holds the retention lock", async () => {
    await h.query(`
      INSERT INTO runs (id, workflow_name, status, shard, ready, created_at, completed_at)
      SELECT md5('turn' || i)::uuid, 'pipeline', 'completed', 0, false, now() - interval '30 days', now() - interval '30 days'
      FROM generate_series(1, 10) AS i`);
    const pg = await import("pg");
    const holder = new pg.default.Client({ connectionString: h.env.databaseUrl });
    await holder.connect();
    const db = openDatabase(h.env.databaseUrl, 2);
    const metrics = createJournalMetrics();
    const retention = new Retention(
      { db, metrics },
      { ageMs: 24 * 3600 * 1000, batch: 100, pauseMs: 0, intervalMs: 100 },
      createLogger("retention-test", "warn"),
    );
    const outcome = async (o: string) =>
      (await metrics.retentionBatches.get()).values.find((v) => v.labels.outcome === o)?.value ?? 0;
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1)", [0x77656674]);
      retention.start();
      while ((await outcome("skipped")) < 2) await new Promise((r) => setTimeout(r, 50));
      expect(await count("SELECT count(*) AS n FROM runs WHERE id = md5('turn1')::uuid")).toBe(1);
      await holder.query("COMMIT");
      while ((await outcome("deleted")) < 1) await new Promise((r) => setTimeout(r, 50));
      expect(await count("SELECT count(*) AS n FROM runs WHERE id = md5('turn1')::uuid")).toBe(0);
    } finally {
      await retention.stop();
      await db.destroy();
      await holder.end();
    }
  }, 60_000);
});
