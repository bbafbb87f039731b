// Trace context survives an executor restart: executor processes (main.ts, tracing on, OTLP/JSON to
// a receiver in the test) run traced tasks; the first is SIGKILLed before it could record anything;
// the tasks come back to a second executor, whose execution spans continue the same publish span
// (the context rides in the NATS headers of the redelivered message), and whose results carry
// those spans' traceparents. Its spans are all exported when it stops (telemetry shuts down last).
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { toBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { StepTaskSchema } from "@weft/contracts";
import { taskStream, taskSubject } from "@weft/runtime";
import { isolatedName, type ServiceProcess, spawnService, testNatsUrl } from "@weft/testkit";
import { afterEach, beforeEach, expect, test } from "vitest";
import { createTaskStream, type FakeJournal, makeTask, startFakeJournal } from "./support.ts";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const APP = new URL("./fixtures/app.ts", import.meta.url).pathname;

interface ExportedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  events: string[];
}

let nc: NatsConnection;
let prefix: string;
let journal: FakeJournal;
let receiver: Server;
let endpoint: string;
let executionsFile: string;
const exported: ExportedSpan[] = [];
const processes: ServiceProcess[] = [];

/** OTLP ids are hex in the JSON encoding (base64 in the canonical protobuf-JSON mapping). */
const id = (v: unknown) => {
  const s = String(v ?? "");
  return /^[0-9a-f]*$/i.test(s) ? s.toLowerCase() : Buffer.from(s, "base64").toString("hex");
};
const attrValue = (v: Record<string, unknown>) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attrs = (list: { key: string; value: Record<string, unknown> }[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, attrValue(a.value)]));

beforeEach(async (ctx) => {
  prefix = isolatedName(ctx.task.name, 20);
  nc = await connect({ servers: testNatsUrl() });
  await createTaskStream(nc, prefix, 1, 2_000);
  journal = await startFakeJournal(prefix, 1);
  exported.length = 0;
  executionsFile = join(tmpdir(), `${prefix}-executions.txt`);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      // biome-ignore lint/suspicious/noExplicitAny: OTLP/JSON export request
      const request = JSON.parse(body.toString()) as any;
      for (const rs of request.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)["service.name"]);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            exported.push({
              service,
              name: s.name,
              traceId: id(s.traceId),
              spanId: id(s.spanId),
              parentSpanId: id(s.parentSpanId),
              attributes: attrs(s.attributes),
              links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
                traceId: id(l.traceId),
                spanId: id(l.spanId),
              })),
              events: (s.events ?? []).map((e: { name: string }) => e.name),
            });
          }
        }
      }
      res.setHeader("content-type", "application/json");
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const address = receiver.address();
  endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/v1/traces`;
});

afterEach(async () => {
  for (const p of processes.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
  await journal.close();
  rmSync(executionsFile, { force: true });
  await new Promise((resolve) => receiver.close(resolve));
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(taskStream(prefix)).catch(() => {});
  await nc.close();
});

async function spawnExecutor(name: string) {
  const p = await spawnService({
    name,
    entry: MAIN,
    env: {
      WEFT_APP: APP,
      WEFT_NATS_URL: testNatsUrl(),
      WEFT_PREFIX: prefix,
      WEFT_JOURNAL_URL: journal.url,
      WEFT_EXECUTOR_PORT: "0",
      WEFT_EXECUTOR_ID: name,
      WEFT_SHARD_LEASE_MS: "2000",
      WEFT_LOG_LEVEL: "info",
      WEFT_TEST_EXECUTIONS: executionsFile,
      OTEL_SERVICE_NAME: name,
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
      OTEL_TRACES_SAMPLER: "always_on",
      OTEL_NODE_RESOURCE_DETECTORS: "none",
    },
  });
  processes.push(p);
  return p;
}

/** Step ids the fixture app started executing (any process). */
function executions(): Set<string> {
  try {
    return new Set(
      readFileSync(executionsFile, "utf8")
        .split("\n")
        .map((l) => l.split(" ")[0])
        .filter((id): id is string => !!id),
    );
  } catch {
    return new Set();
  }
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

test("trace context survives an executor restart: the redelivered task's execution continues the publish span", async () => {
  // Executor A runs the tasks but can record nothing; it is killed holding them.
  journal.failRecord = () => true;
  const a = await spawnExecutor("executor-a");
  expect(a.logs.some((l) => l.includes('"tracing":true'))).toBe(true);

  const js = jetstream(nc);
  const tasks = Array.from({ length: 4 }, (_, i) => makeTask({ stepName: "slow", workflowName: "crash", args: i }));
  const publishes = new Map<string, { traceId: string; spanId: string }>();
  for (const task of tasks) {
    const publish = { traceId: hex(16), spanId: hex(8) };
    publishes.set(task.stepId, publish);
    const h = headers();
    h.set("traceparent", `00-${publish.traceId}-${publish.spanId}-01`);
    await js.publish(taskSubject(prefix, 0), toBinary(StepTaskSchema, task), {
      msgID: `${task.stepId}.${task.dispatch}`,
      headers: h,
    });
  }
  await expect.poll(() => executions().size, { timeout: 10_000 }).toBe(tasks.length);
  a.kill("SIGKILL");
  await a.exited;
  expect(journal.recorded.size).toBe(0);

  // Executor B gets them back after ack_wait (2 s) and records them.
  journal.failRecord = () => false;
  const b = await spawnExecutor("executor-b");
  await journal.waitForResults(tasks.length, 20_000);
  expect(await b.stop()).toBe(0);

  const fromB = exported.filter((s) => s.service === "executor-b");
  for (const task of tasks) {
    const publish = publishes.get(task.stepId)!;
    const exec = fromB.find((s) => s.name === "execute slow" && s.attributes["weft.step.id"] === task.stepId);
    expect(exec, `execution span of ${task.stepId}`).toBeDefined();
    // Same trace, same parent as the first delivery: the publish span from the headers.
    expect(exec!.traceId).toBe(publish.traceId);
    expect(exec!.parentSpanId).toBe(publish.spanId);
    expect(exec!.attributes["weft.task.delivery_count"]).toBeGreaterThanOrEqual(2);
    // The recorded result names B's execution span (the journal links it from RecordResultBatch).
    expect(journal.recorded.get(task.stepId)?.traceparent).toBe(`00-${exec!.traceId}-${exec!.spanId}-01`);
    // It succeeded at its first attempt on B: no failure event on it.
    expect(exec!.events).not.toContain("exception");
  }
  // B's flushes (each the parent of its RecordResultBatch call) carried them all.
  const flushed = fromB
    .filter((s) => s.name === "flush")
    .reduce((n, s) => n + Number(s.attributes["weft.batch.size"]), 0);
  expect(flushed).toBe(tasks.length);
});
