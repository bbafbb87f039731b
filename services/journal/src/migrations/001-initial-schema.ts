// First schema of the journal: runs, steps, events, registered workflows, shard leases, executors.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE SEQUENCE completion_order_seq;

    CREATE TABLE runs (
      id uuid PRIMARY KEY,
      workflow_name text NOT NULL,
      status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'canceled')),
      args bytea,
      result bytea,
      error jsonb,
      idempotency_key text,
      parent_run_id uuid,
      parent_seq int,
      generation int NOT NULL DEFAULT 1,
      shard int NOT NULL,
      ready boolean NOT NULL DEFAULT true,
      ready_at timestamptz DEFAULT now(),
      lease_owner text,
      lease_expires timestamptz,
      lease_token bigint NOT NULL DEFAULT 0,
      traceparent text,
      app_version text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    CREATE UNIQUE INDEX runs_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
    -- ClaimRuns: ready runs without a lease, oldest ready_at first; and expired leases.
    CREATE INDEX runs_ready ON runs (ready_at) WHERE status = 'running' AND ready AND lease_expires IS NULL;
    CREATE INDEX runs_leased ON runs (lease_expires) WHERE status = 'running' AND lease_expires IS NOT NULL;
    CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
    CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

    CREATE TABLE steps (
      id uuid PRIMARY KEY,
      run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      generation int NOT NULL,
      seq int NOT NULL,
      name text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('query', 'mutation', 'action', 'sleep', 'event', 'child', 'on_complete')),
      status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'canceled')),
      args bytea,
      result bytea,
      error jsonb,
      attempt int NOT NULL DEFAULT 0,
      wake_at timestamptz,
      timeout_at timestamptz,
      event_name text,
      child_workflow_name text,
      child_run_id uuid,
      completion_order bigint,
      dispatch int NOT NULL DEFAULT 0,
      dispatched_at timestamptz,
      heartbeat_at timestamptz,
      shard int NOT NULL,
      traceparent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      completed_at timestamptz,
      UNIQUE (run_id, generation, seq)
    );
    -- Sweeper: dispatched tasks without a result.
    CREATE INDEX steps_dispatched ON steps ((coalesce(heartbeat_at, dispatched_at)))
      WHERE status = 'running' AND kind IN ('query', 'mutation', 'action', 'on_complete');
    -- Timers.
    CREATE INDEX steps_wake ON steps (wake_at) WHERE status = 'running' AND kind = 'sleep';
    CREATE INDEX steps_timeout ON steps (timeout_at) WHERE status = 'running' AND kind = 'event' AND timeout_at IS NOT NULL;
    CREATE INDEX steps_event_wait ON steps (run_id, event_name) WHERE status = 'running' AND kind = 'event';

    CREATE TABLE events (
      id uuid PRIMARY KEY,
      run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
      name text NOT NULL,
      payload bytea,
      created_at timestamptz NOT NULL DEFAULT now(),
      consumed_by_seq int
    );
    CREATE INDEX events_unconsumed ON events (run_id, name, created_at) WHERE consumed_by_seq IS NULL;
    CREATE INDEX events_run ON events (run_id, created_at);

    CREATE TABLE workflow_defs (
      name text PRIMARY KEY,
      has_on_complete boolean NOT NULL DEFAULT false,
      app_version text,
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE shard_leases (
      shard int PRIMARY KEY,
      owner text,
      token bigint NOT NULL DEFAULT 0,
      expires_at timestamptz
    );

    CREATE TABLE executors (
      id text PRIMARY KEY,
      last_seen timestamptz NOT NULL
    );
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE executors; DROP TABLE shard_leases; DROP TABLE workflow_defs;
    DROP TABLE events; DROP TABLE steps; DROP TABLE runs; DROP SEQUENCE completion_order_seq;
  `.execute(db);
}
