// Statement shapes for database span names and attributes.
import { expect, test } from "vitest";
import { databaseAttributes, statementShape } from "./telemetry.ts";

test("statement shapes: operation and collection, past comments and common table expressions", () => {
  expect(statementShape("/* timers */ UPDATE steps SET status = 'completed' WHERE x = $1")).toMatchObject({
    operation: "UPDATE",
    collection: "steps",
    summary: "UPDATE steps",
  });
  expect(statementShape("INSERT INTO runs (id) SELECT t.id FROM unnest($1::uuid[]) AS t(id)").summary).toBe(
    "INSERT runs",
  );
  expect(statementShape('select * from "steps" where run_id = $1').summary).toBe("SELECT steps");
  expect(statementShape("SELECT pg_advisory_xact_lock($1)").summary).toBe("SELECT");
  expect(
    statementShape(`WITH wait AS (SELECT s.id FROM steps s WHERE s.x = (1)), completed AS (UPDATE steps SET a = 1 RETURNING seq)
      INSERT INTO events (id, consumed_by_seq) VALUES ($1, (SELECT seq FROM completed)) RETURNING consumed_by_seq`)
      .summary,
  ).toBe("INSERT events");
  expect(
    statementShape(
      "/* sweeper */ WITH stale AS (SELECT id FROM steps LIMIT $1) UPDATE steps SET dispatch = dispatch + 1 FROM stale, runs",
    ).summary,
  ).toBe("UPDATE steps");
});

test("database attributes from the connection URL", () => {
  expect(databaseAttributes("postgres://u:p@db.example:6543/weft_test")).toEqual({
    "db.system.name": "postgresql",
    "db.namespace": "weft_test",
    "server.address": "db.example",
    "server.port": 6543,
  });
  expect(databaseAttributes("host=/tmp dbname=weft")).toEqual({ "db.system.name": "postgresql" });
});
