// Property-based fuzzing of every RPC the journal serves (enumerated from the generated service
// descriptors, so new RPCs are covered without edits) against the real journal process on real
// Postgres and NATS: random messages, mutations of valid ones, huge strings, deep JSON, invalid
// UTF-8 (in payload bytes, and in string fields as raw protobuf over the Connect and gRPC
// protocols), negative and out-of-range numbers, unknown enum values, 100k-entry repeated fields.
// Every call must get a correct answer or a precise error (an input-error code and a message that
// names the field or the limit); a rejected call must leave every table as it was; the process
// must stay up, SERVING, and its heap must not grow. WEFT_FUZZ_RUNS sets the number of generated
// calls (default 1000); the counts and memory figures are printed at the end.
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import {
  create,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescOneof,
  type DescService,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  encodePayload,
  Health,
  HealthCheckResponse_ServingStatus,
  JournalService,
  OperatorService,
  RunStatus,
  StepKind,
  WorkflowService,
} from "@weft/contracts";
import { createTestEnvironment, type ServiceProcess, spawnService, type TestEnvironment } from "@weft/testkit";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, expect, test } from "vitest";

/** Every service the journal's port serves; their methods are enumerated from the descriptors. */
const SERVICES: readonly DescService[] = [WorkflowService, JournalService, OperatorService, Health];
const RUNS = Number(process.env.WEFT_FUZZ_RUNS) || 1000;
const SEED = process.env.WEFT_FUZZ_SEED ? Number(process.env.WEFT_FUZZ_SEED) : undefined;
const MAX_PAYLOAD = 64 * 1024;
const MAX_REQUEST = 8 * 1024 * 1024;
/** Codes that say "your input": never Internal, Unknown or Unavailable. */
const INPUT_CODES = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.AlreadyExists,
  Code.OutOfRange,
]);

let env: TestEnvironment;
let journal: ServiceProcess;
let pool: pg.Pool;
let base: string;
let tables: string[];

beforeAll(async () => {
  env = await createTestEnvironment("journal fuzz");
  journal = await spawnService({
    name: "journal",
    entry: fileURLToPath(new URL("../src/main.ts", import.meta.url)),
    env: {
      ...env.env,
      WEFT_JOURNAL_PORT: "0",
      WEFT_JOURNAL_HOST: "127.0.0.1",
      WEFT_SHARDS: "4",
      WEFT_MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD),
      WEFT_MAX_REQUEST_BYTES: String(MAX_REQUEST),
      // Input validation is what is fuzzed here; who may call what is auth.test.ts's matrix.
      WEFT_AUTH: "off",
      // No background writes during the run: the sweeper and timers leave the tables alone.
      WEFT_DISPATCH_TIMEOUT_MS: String(24 * 3600 * 1000),
      // The inspector lets the test collect garbage in the journal and read its heap.
      NODE_OPTIONS: "--inspect=127.0.0.1:0",
    },
  });
  base = `http://127.0.0.1:${journal.port}`;
  pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  tables = (
    await pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
  ).rows.map((r) => r.table_name);
}, 60_000);

afterAll(async () => {
  await pool?.end();
  if (journal) expect(await journal.stop()).toBe(0);
  await env?.cleanup();
});

/** One row per table: row count and a checksum of every row. */
async function snapshot(): Promise<Record<string, string>> {
  const columns = tables.map(
    (t) =>
      `(SELECT count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM "${t}" x) AS "${t}"`,
  );
  const { rows } = await pool.query<Record<string, string>>(`SELECT ${columns.join(", ")}`);
  return rows[0] ?? {};
}

// --- the journal's memory, through its inspector -------------------------------------------------

async function inspect(): Promise<{ heapMb: number; rssMb: number }> {
  const line = journal.logs.find((l) => l.includes("Debugger listening on ws://"));
  const url = line?.slice(line.indexOf("ws://")).trim();
  if (!url) throw new Error(`the journal printed no inspector address:\n${journal.logs.slice(0, 10).join("\n")}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const send = (method: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const mine = ++id;
      ws.onmessage = (m) => {
        const msg = JSON.parse(String(m.data)) as { id?: number; result?: Record<string, unknown>; error?: unknown };
        if (msg.id !== mine) return;
        if (msg.error) reject(new Error(JSON.stringify(msg.error)));
        else resolve(msg.result ?? {});
      };
      ws.send(JSON.stringify({ id: mine, method }));
    });
  try {
    for (let i = 0; i < 3; i++) await send("HeapProfiler.collectGarbage");
    const usage = await send("Runtime.getHeapUsage");
    const status = readFileSync(`/proc/${journal.pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return { heapMb: Number(usage.usedSize) / 2 ** 20, rssMb: rssKb / 1024 };
  } finally {
    ws.close();
  }
}

// --- state the valid messages refer to -------------------------------------------------------------

interface World {
  runIds: string[];
  stepIds: string[];
  claimed: { runId: string; leaseToken: bigint };
}

async function seedWorld(): Promise<World> {
  const transport = createGrpcTransport({ baseUrl: base });
  const workflows = createClient(WorkflowService, transport);
  const internal = createClient(JournalService, transport);
  await internal.registerWorker({ workerId: "fuzz-worker", workflows: [{ name: "fuzz-wf" }] });
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { run } = await workflows.startWorkflow({ workflowName: "fuzz-wf", args: encodePayload({ i }) });
    runIds.push(run?.id ?? "");
  }
  const claimed = await internal.claimRuns({ owner: "fuzz-owner", maxRuns: 10, leaseMs: 3_600_000 });
  const first = claimed.runs[0];
  if (!first?.run) throw new Error("nothing claimed");
  await internal.commitTurns({
    owner: "fuzz-owner",
    turns: claimed.runs.map((c) => ({
      runId: c.run?.id ?? "",
      leaseToken: c.leaseToken,
      generation: 1,
      newSteps: [{ seq: 1, name: "fuzz-step", kind: StepKind.QUERY, args: encodePayload(1) }],
    })),
  });
  const steps = await pool.query<{ id: string }>("SELECT id FROM steps ORDER BY id");
  // One run claimed again, so that mutated commits carry a live lease token.
  const again = await internal.claimRuns({ owner: "fuzz-owner", maxRuns: 1, leaseMs: 3_600_000 });
  const live = again.runs[0] ?? first;
  return {
    runIds,
    stepIds: steps.rows.map((r) => r.id),
    claimed: { runId: live.run?.id ?? "", leaseToken: live.leaseToken },
  };
}

/** A valid request per method (plain init objects); methods added later fall back to `{}`. */
function validSeeds(w: World): Record<string, Record<string, unknown>> {
  const run = w.runIds[0] ?? "";
  const step = w.stepIds[0] ?? "";
  return {
    "weft.v1.WorkflowService/StartWorkflow": {
      workflowName: "fuzz-wf",
      args: encodePayload({ n: 1 }),
      idempotencyKey: "fuzz-key",
    },
    "weft.v1.WorkflowService/GetWorkflow": { runId: run },
    "weft.v1.WorkflowService/ListWorkflows": { workflowName: "fuzz-wf", statuses: [RunStatus.RUNNING], pageSize: 10 },
    "weft.v1.WorkflowService/CancelWorkflow": { runId: w.runIds[3] ?? run, reason: "fuzz" },
    "weft.v1.WorkflowService/SendEvent": { runId: run, eventName: "fuzz-event", payload: encodePayload(1) },
    "weft.v1.WorkflowService/WatchWorkflow": { runId: run, includeSteps: true },
    "weft.v1.WorkflowService/GetHistory": { runId: run, pageSize: 10 },
    "weft.v1.JournalService/RegisterWorker": {
      workerId: "fuzz-worker",
      role: 1,
      appVersion: "1",
      workflows: [{ name: "fuzz-wf", hasOnComplete: false }],
      steps: [{ name: "fuzz-step", kind: StepKind.QUERY }],
    },
    "weft.v1.JournalService/ClaimRuns": { owner: "fuzz-owner", maxRuns: 5, leaseMs: 60_000, shards: [0, 1] },
    "weft.v1.JournalService/CommitTurns": {
      owner: "fuzz-owner",
      turns: [
        {
          runId: w.claimed.runId,
          leaseToken: w.claimed.leaseToken,
          generation: 1,
          newSteps: [{ seq: 2, name: "fuzz-step-2", kind: StepKind.QUERY, args: encodePayload(2) }],
          traceparent: "",
        },
      ],
    },
    "weft.v1.JournalService/RecordResultBatch": {
      executorId: "fuzz-exec",
      results: [
        {
          stepId: step,
          runId: run,
          generation: 1,
          attempt: 1,
          outcome: { case: "result", value: encodePayload("done") },
        },
      ],
    },
    "weft.v1.JournalService/HeartbeatSteps": { executorId: "fuzz-exec", stepIds: [step] },
    "weft.v1.JournalService/LeaseShards": { executorId: "fuzz-exec", leaseMs: 10_000, release: [] },
    "weft.v1.JournalService/ReadJournals": { runIds: [run, w.claimed.runId] },
    "weft.v1.JournalService/StreamClaims": { owner: "fuzz-owner", leaseMs: 60_000, credits: 2 },
    "weft.v1.OperatorService/Diagnose": { unclaimedThresholdMs: 1_000n, limit: 5 },
    "grpc.health.v1.Health/Check": { service: "weft.v1.WorkflowService" },
    "grpc.health.v1.Health/Watch": { service: "" },
  };
}

const keyOf = (m: DescMethod) => `${m.parent.typeName}/${m.name}`;
const METHODS: DescMethod[] = SERVICES.flatMap((s) => s.methods);

// --- arbitraries from descriptors -----------------------------------------------------------------

const HUGE = "x".repeat(1024 * 1024);
const deepArray = (depth: number) => encodeText(`${"[".repeat(depth)}${"]".repeat(depth)}`);
const deepObject = (depth: number) => encodeText(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
function encodeText(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function arbitraries(w: World) {
  const known = [...w.runIds, ...w.stepIds, "fuzz-wf", "fuzz-owner", "fuzz-exec", "fuzz-event", "fuzz-step"];
  const string: fc.Arbitrary<string> = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known, "") },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "\u0000",
        "a\u0000b",
        "\ud800",
        "x\udfffy",
        "\u202e\ufeff",
        "'; DROP TABLE runs; --",
        "x".repeat(257),
        "y".repeat(70_000),
        HUGE,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "ZmFrZQ",
        "WyIyMDI0LTAxLTAxIDAwOjAwOjAwKzAwIiwiMSJd",
      ),
    },
  );
  const bytes: fc.Arbitrary<Uint8Array> = fc.oneof(
    { weight: 4, arbitrary: fc.json({ maxDepth: 4 }).map(encodeText) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        deepArray(10_000),
        deepObject(5_000),
        deepArray(100_000), // over the payload limit
        new Uint8Array([0xff, 0xfe]),
        new Uint8Array([0x22, 0xc0, 0xaf, 0x22]), // overlong encoding inside a JSON string
        new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), // an encoded surrogate
        encodeText(JSON.stringify("z".repeat(MAX_PAYLOAD))), // just over the limit
        encodeText('"\\u0000"'),
        encodeText("NaN"),
        encodeText("{"),
      ),
    },
  );
  const int32 = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 1, 2, -(2 ** 31), 2 ** 31 - 1));
  const uint32 = fc.oneof(fc.nat(), fc.constantFrom(0, 1, 2, 3, 4, 100, 2 ** 31, 2 ** 32 - 1));
  const int64 = fc.oneof(fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), fc.constantFrom(-1n, 0n, 1n));
  const uint64 = fc.oneof(
    fc.bigInt(0n, 2n ** 64n - 1n),
    fc.constantFrom(0n, 1n, 2n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
  );
  const double = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2));
  const timestamp = fc.oneof(
    fc.record({
      seconds: fc.bigInt(-62_135_596_800n, 253_402_300_799n),
      nanos: fc.integer({ min: 0, max: 999_999_999 }),
    }),
    fc.record({ seconds: int64, nanos: fc.integer() }),
    fc.constantFrom({ seconds: 0n, nanos: 0 }, { seconds: 253_402_300_800n, nanos: 0 }, { seconds: 1n, nanos: -1 }),
  );

  const scalar = (t: ScalarType): fc.Arbitrary<unknown> => {
    switch (t) {
      case ScalarType.STRING:
        return string;
      case ScalarType.BYTES:
        return bytes;
      case ScalarType.BOOL:
        return fc.boolean();
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        return int32;
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        return uint32;
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        return int64;
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        return uint64;
      default:
        return double;
    }
  };
  // Known values, and unknown ones (proto3 enums are open).
  const enumeration = (e: DescEnum) =>
    fc.oneof(fc.constantFrom(...e.values.map((v) => v.number)), fc.constantFrom(-1, 99, 2 ** 31 - 1));

  const field = (f: DescField, depth: number): fc.Arbitrary<unknown> => {
    switch (f.fieldKind) {
      case "scalar":
        return scalar(f.scalar);
      case "enum":
        return enumeration(f.enum);
      case "message":
        return message(f.message, depth + 1);
      case "list": {
        const element =
          f.listKind === "scalar"
            ? scalar(f.scalar)
            : f.listKind === "enum"
              ? enumeration(f.enum)
              : message(f.message, depth + 1);
        return fc.array(element, { maxLength: 4 });
      }
      default:
        return fc.constant({});
    }
  };
  const oneof = (o: DescOneof, depth: number): fc.Arbitrary<unknown> =>
    fc.oneof(
      fc.constant({ case: undefined }),
      ...o.fields.map((f) => field(f, depth).map((value) => ({ case: f.localName, value }))),
    );
  const member = (m: DescField | DescOneof, depth: number) => (m.kind === "oneof" ? oneof(m, depth) : field(m, depth));

  function message(desc: DescMessage, depth: number): fc.Arbitrary<Record<string, unknown> | undefined> {
    if (desc.typeName === "google.protobuf.Timestamp") return timestamp;
    if (depth > 3) return fc.constant(undefined);
    const parts: Record<string, fc.Arbitrary<unknown>> = {};
    for (const m of desc.members) parts[m.localName] = member(m, depth);
    return fc.record(parts, { requiredKeys: [] });
  }

  /** A valid message with one field (possibly nested in its first list element) replaced or duplicated. */
  function mutation(
    desc: DescMessage,
    seed: Record<string, unknown>,
    depth = 0,
  ): fc.Arbitrary<Record<string, unknown>> {
    const options: fc.Arbitrary<Record<string, unknown>>[] = [fc.constant(seed)];
    for (const m of desc.members) {
      options.push(member(m, depth).map((value) => ({ ...seed, [m.localName]: value })));
      if (m.kind === "oneof") continue;
      const current = seed[m.localName];
      if (m.fieldKind === "message" && current && typeof current === "object" && depth < 2) {
        options.push(
          mutation(m.message, current as Record<string, unknown>, depth + 1).map((v) => ({
            ...seed,
            [m.localName]: v,
          })),
        );
      }
      if (m.fieldKind === "list" && Array.isArray(current) && current.length > 0) {
        options.push(fc.constant({ ...seed, [m.localName]: [...current, ...current] }));
        if (m.listKind === "message" && depth < 2) {
          options.push(
            mutation(m.message, current[0] as Record<string, unknown>, depth + 1).map((v) => ({
              ...seed,
              [m.localName]: [v, ...current.slice(1)],
            })),
          );
        }
      }
    }
    return fc.oneof(...options);
  }

  return { message, mutation };
}

// --- calls and their checks -----------------------------------------------------------------------

type Outcome = { ok: true; res: unknown } | { ok: false; err: ConnectError };

type Callable = (req: unknown, options?: { signal?: AbortSignal; timeoutMs?: number }) => unknown;

const clients = new Map<DescService, Record<string, Callable>>();
function clientOf(service: DescService): Record<string, Callable> {
  let client = clients.get(service);
  if (!client) {
    client = createClient(service, createGrpcTransport({ baseUrl: base })) as unknown as Record<string, Callable>;
    clients.set(service, client);
  }
  return client;
}

async function invoke(method: DescMethod, req: unknown): Promise<Outcome> {
  const fn = clientOf(method.parent)[method.localName];
  if (!fn) throw new Error(`no client method for ${keyOf(method)}`);
  if (method.methodKind === "unary") {
    try {
      return { ok: true, res: await fn(req, { timeoutMs: 60_000 }) };
    } catch (err) {
      return { ok: false, err: ConnectError.from(err) };
    }
  }
  // Streams: the first message (or the end) is the answer; a stream that stays open and quiet
  // for a while accepted the call. Client and bidi streams send the one request, then half-close.
  const abort = new AbortController();
  const input =
    method.methodKind === "server_streaming"
      ? req
      : (async function* () {
          yield req;
        })();
  const quiet = setTimeout(() => abort.abort(), 2_000);
  try {
    for await (const res of fn(input, { signal: abort.signal }) as AsyncIterable<unknown>) return { ok: true, res };
    return { ok: true, res: undefined };
  } catch (err) {
    const e = ConnectError.from(err);
    if (abort.signal.aborted && e.code === Code.Canceled) return { ok: true, res: undefined };
    return { ok: false, err: e };
  } finally {
    clearTimeout(quiet);
    abort.abort();
  }
}

/** The error names a field of the request (`field: …`, `field[3].x: …`) or a limit. */
function namesFieldOrLimit(method: DescMethod, message: string): boolean {
  const head = /^([a-z_]+)[[.:]/.exec(message)?.[1];
  if (head && method.input.fields.some((f) => f.name === head)) return true;
  // Connect's JSON decoder: "cannot decode field weft.v1.X.field from JSON: …".
  const decoded = /^cannot decode field ([\w.]+)\.(\w+) from JSON/.exec(message);
  if (decoded && decoded[1] === method.input.typeName && method.input.fields.some((f) => f.name === decoded[2])) {
    return true;
  }
  return /WEFT_[A-Z_]+|readMaxBytes/.test(message);
}

const counts = new Map<string, Map<string, number>>();
function count(key: string, outcome: string): void {
  const byOutcome = counts.get(key) ?? new Map<string, number>();
  counts.set(key, byOutcome);
  byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
}
const outcomeName = (o: Outcome) => (o.ok ? "ok" : Code[o.err.code]);

/** Checks an answer against what was asked (beyond "it decoded"). */
function checkAnswer(method: DescMethod, req: Record<string, unknown>, res: Record<string, unknown> | undefined): void {
  const lower = (v: unknown) => String(v ?? "").toLowerCase();
  if (res === undefined) {
    // A stream that stayed quiet accepted the call: a watch of a running run's final state only.
    if (keyOf(method) === "weft.v1.WorkflowService/WatchWorkflow") expect(req.finalOnly).toBe(true);
    return;
  }
  switch (keyOf(method)) {
    case "weft.v1.WorkflowService/StartWorkflow": {
      const run = res.run as { workflowName: string; args: Uint8Array } | undefined;
      // The binary encoding carries a lone surrogate as U+FFFD.
      expect(run?.workflowName).toBe(String(req.workflowName).toWellFormed());
      if (!res.existing)
        expect(Buffer.from(run?.args ?? []).equals(Buffer.from((req.args as Uint8Array) ?? []))).toBe(true);
      break;
    }
    case "weft.v1.WorkflowService/GetWorkflow":
    case "weft.v1.WorkflowService/GetHistory":
    case "weft.v1.WorkflowService/CancelWorkflow":
    case "weft.v1.WorkflowService/WatchWorkflow":
      expect(lower((res.run as { id?: string } | undefined)?.id)).toBe(lower(req.runId));
      break;
    case "weft.v1.WorkflowService/ListWorkflows":
      expect((res.runs as unknown[]).length).toBeLessThanOrEqual(Number(req.pageSize) || 100);
      break;
    case "weft.v1.JournalService/ReadJournals": {
      const asked = new Set((req.runIds as string[]).map(lower));
      for (const c of res.runs as { run?: { id: string } }[]) expect(asked.has(c.run?.id ?? "")).toBe(true);
      break;
    }
    case "weft.v1.JournalService/ClaimRuns":
      expect((res.runs as unknown[]).length).toBeLessThanOrEqual(Number(req.maxRuns));
      break;
    case "weft.v1.JournalService/CommitTurns":
      expect((res.results as unknown[]).length).toBe((req.turns as unknown[]).length);
      break;
    case "weft.v1.JournalService/RecordResultBatch":
      expect((res.acks as unknown[]).length).toBe((req.results as unknown[]).length);
      break;
    case "weft.v1.JournalService/HeartbeatSteps": {
      const asked = new Set((req.stepIds as string[]).map(lower));
      for (const id of res.finishedStepIds as string[]) expect(asked.has(id)).toBe(true);
      break;
    }
    case "weft.v1.JournalService/LeaseShards":
      for (const l of res.leases as { shard: number }[]) expect(l.shard).toBeLessThan(Number(res.shardCount));
      break;
    case "weft.v1.JournalService/RegisterWorker":
      expect(res.shardCount).toBe(4);
      break;
    case "grpc.health.v1.Health/Check":
    case "grpc.health.v1.Health/Watch":
      expect(res.status).not.toBe(HealthCheckResponse_ServingStatus.UNKNOWN);
      break;
  }
}

/** One checked call: before/after snapshots, the outcome's code and message, the answer. */
async function checkedCall(method: DescMethod, init: Record<string, unknown>, label = keyOf(method)): Promise<Outcome> {
  const req = create(method.input, init as never) as unknown as Record<string, unknown>;
  const before = await snapshot();
  const outcome = await invoke(method, req);
  count(label, outcomeName(outcome));
  if (outcome.ok) {
    checkAnswer(method, req, outcome.res as Record<string, unknown> | undefined);
    return outcome;
  }
  const { code, rawMessage } = outcome.err;
  if (!INPUT_CODES.has(code) || !namesFieldOrLimit(method, rawMessage)) {
    throw new Error(`${keyOf(method)} answered ${Code[code]}: ${rawMessage.slice(0, 500)}`);
  }
  expect(await snapshot(), `${keyOf(method)} rejected (${rawMessage.slice(0, 200)}) but changed the database`).toEqual(
    before,
  );
  return outcome;
}

// --- raw protobuf over HTTP: invalid UTF-8 where Protobuf-ES would never put it ------------------

const INVALID_UTF8 = [new Uint8Array([0xff]), new Uint8Array([0x61, 0xc0, 0xaf]), new Uint8Array([0xed, 0xa0, 0x80])];

/** `seed` encoded, then `field` appended again with invalid UTF-8 (the last value of a field wins). */
function withInvalidUtf8(desc: DescMessage, seed: Record<string, unknown>, field: DescField, bad: Uint8Array) {
  const w = new BinaryWriter();
  w.raw(toBinary(desc, create(desc, seed as never)));
  w.tag(field.number, WireType.LengthDelimited).bytes(bad);
  return w.finish();
}

/** Every string field of the request, and of its message fields one level down, made invalid. */
function invalidUtf8Bodies(method: DescMethod, seed: Record<string, unknown>): { where: string; body: Uint8Array }[] {
  const out: { where: string; body: Uint8Array }[] = [];
  for (const [i, bad] of INVALID_UTF8.entries()) {
    for (const f of method.input.fields) {
      if ((f.fieldKind === "scalar" || f.fieldKind === "list") && f.scalar === ScalarType.STRING) {
        out.push({ where: `${f.name}#${i}`, body: withInvalidUtf8(method.input, seed, f, bad) });
      }
      const inner =
        f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message") ? f.message : null;
      if (!inner || inner.typeName === "google.protobuf.Timestamp") continue;
      const current = seed[f.localName];
      const innerSeed = (Array.isArray(current) ? current[0] : current) as Record<string, unknown> | undefined;
      for (const g of inner.fields) {
        if (g.fieldKind !== "scalar" || g.scalar !== ScalarType.STRING) continue;
        const w = new BinaryWriter();
        w.raw(toBinary(method.input, create(method.input, seed as never)));
        w.tag(f.number, WireType.LengthDelimited).bytes(withInvalidUtf8(inner, innerSeed ?? {}, g, bad));
        out.push({ where: `${f.name}.${g.name}#${i}`, body: w.finish() });
      }
    }
  }
  return out;
}

const envelope = (body: Uint8Array, flags = 0) => {
  const out = new Uint8Array(5 + body.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, body.length);
  out.set(body, 5);
  return out;
};

/** Connect over HTTP/1.1 (fetch) carries unary and server-streaming calls only. */
const overConnect = (m: DescMethod) => m.methodKind === "unary" || m.methodKind === "server_streaming";

/** A raw Connect call (binary): the Connect code name of the error, or "ok". */
async function rawConnect(method: DescMethod, body: Uint8Array): Promise<{ code: string; message: string }> {
  const unary = method.methodKind === "unary";
  const res = await fetch(`${base}/${method.parent.typeName}/${method.name}`, {
    method: "POST",
    headers: {
      "content-type": unary ? "application/proto" : "application/connect+proto",
      "connect-protocol-version": "1",
    },
    body: unary ? body : envelope(body),
    signal: AbortSignal.timeout(30_000),
  });
  if (unary) {
    if (res.ok) {
      await res.arrayBuffer();
      return { code: "ok", message: "" };
    }
    const err = (await res.json()) as { code?: string; message?: string };
    return { code: err.code ?? `http ${res.status}`, message: err.message ?? "" };
  }
  // A stream: read frames until the end-of-stream frame, which carries the error if any.
  const reader = res.body?.getReader();
  let buffered = new Uint8Array(0);
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) return { code: "ok", message: "" };
    buffered = Buffer.concat([buffered, chunk.value]);
    while (buffered.length >= 5) {
      const len = new DataView(buffered.buffer, buffered.byteOffset).getUint32(1);
      if (buffered.length < 5 + len) break;
      const flags = buffered[0] ?? 0;
      const data = buffered.subarray(5, 5 + len);
      buffered = buffered.subarray(5 + len);
      if (flags & 0x02) {
        const end = JSON.parse(new TextDecoder().decode(data)) as { error?: { code: string; message?: string } };
        await reader?.cancel();
        return end.error ? { code: end.error.code, message: end.error.message ?? "" } : { code: "ok", message: "" };
      }
      await reader?.cancel(); // a message: the call was accepted
      return { code: "ok", message: "" };
    }
  }
}

/** A raw gRPC call over HTTP/2: grpc-status and grpc-message. */
function rawGrpc(method: DescMethod, body: Uint8Array): Promise<{ code: string; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(base);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": `/${method.parent.typeName}/${method.name}`,
      "content-type": "application/grpc+proto",
      te: "trailers",
    });
    let headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("data", () => {
      // A message means the call was accepted; a stream would go on, so stop here.
      if (method.methodKind !== "unary") stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    const done = (trailers: http2.IncomingHttpHeaders) => {
      session.close();
      const status = Number(trailers["grpc-status"] ?? headers["grpc-status"] ?? -1);
      const message = decodeURIComponent(String(trailers["grpc-message"] ?? headers["grpc-message"] ?? ""));
      resolve({ code: status === 0 ? "ok" : status === -1 ? "ok" : (Code[status] ?? String(status)), message });
    };
    stream.on("trailers", done);
    stream.on("close", () => done({}));
    stream.on("error", () => undefined);
    stream.end(envelope(body));
  });
}

/** fc.assert, with the report cut short (a counterexample can hold megabytes of input). */
async function assertProperty<T>(property: fc.IAsyncProperty<T>, params: fc.Parameters<T>): Promise<void> {
  const details = await fc.check(property, params);
  if (!details.failed) return;
  const example = JSON.stringify(details.counterexample, (_, v) =>
    v && typeof v === "object" && (v as { kind?: string }).kind === "rpc"
      ? keyOf(v as DescMethod)
      : typeof v === "bigint"
        ? `${v}n`
        : v instanceof Uint8Array
          ? `<${v.length} bytes>`
          : typeof v === "string" && v.length > 200
            ? `${v.slice(0, 200)}…(${v.length})`
            : v,
  );
  throw new Error(
    `property failed (seed ${details.seed}, path ${details.counterexamplePath}): ${String(details.errorInstance).slice(0, 2000)}\ncounterexample: ${example?.slice(0, 3000)}`,
  );
}

// --- the properties ----------------------------------------------------------------------------------

test(`fuzz: ${RUNS} generated calls over ${METHODS.length} RPCs, raw invalid UTF-8, 100k-entry fields`, async () => {
  const world = await seedWorld();
  const seeds = validSeeds(world);
  const { message, mutation } = arbitraries(world);
  const fcParams = { seed: SEED, endOnFailure: true };
  const callArb = fc.constantFrom(...METHODS).chain((method) =>
    fc
      .oneof(
        message(method.input, 0).map((init) => init ?? {}),
        mutation(method.input, seeds[keyOf(method)] ?? {}),
      )
      .map((init) => ({ method, init })),
  );
  const property = fc.asyncProperty(callArb, async ({ method, init }) => {
    await checkedCall(method, init);
  });

  // Warm-up (JIT, pools, first-use allocations), then the heap after GC is the baseline.
  await assertProperty(property, { ...fcParams, numRuns: 200 });
  const before = await inspect();

  await assertProperty(property, { ...fcParams, numRuns: RUNS });

  // 100k-entry repeated fields: within a limit they are answered, past it rejected by name.
  const big = 100_000;
  const step = world.stepIds[0] ?? "";
  const bigCalls: [string, Record<string, unknown>][] = [
    ["weft.v1.JournalService/HeartbeatSteps", { executorId: "fuzz-exec", stepIds: new Array(big).fill(step) }],
    ["weft.v1.JournalService/HeartbeatSteps", { executorId: "fuzz-exec", stepIds: new Array(big + 1).fill(step) }],
    [
      "weft.v1.JournalService/RegisterWorker",
      { workerId: "fuzz-worker", steps: Array.from({ length: big }, (_, i) => ({ name: `s${i}`, kind: 1 })) },
    ],
    [
      "weft.v1.JournalService/RegisterWorker",
      { workerId: "fuzz-worker", workflows: new Array(big).fill({ name: "w" }) },
    ],
    [
      "weft.v1.JournalService/RecordResultBatch",
      { executorId: "fuzz-exec", results: new Array(big).fill({ stepId: step, runId: step, generation: 1 }) },
    ],
    ["weft.v1.JournalService/CommitTurns", { owner: "fuzz-owner", turns: new Array(big).fill({ runId: step }) }],
    ["weft.v1.JournalService/ClaimRuns", { owner: "fuzz-owner", maxRuns: 1, shards: new Array(big).fill(1) }],
    ["weft.v1.JournalService/LeaseShards", { executorId: "fuzz-exec", leaseMs: 1000, release: new Array(big).fill(9) }],
    ["weft.v1.WorkflowService/ListWorkflows", { statuses: new Array(big).fill(RunStatus.RUNNING) }],
    ["weft.v1.WorkflowService/ListWorkflows", { statuses: new Array(big).fill(77) }],
  ];
  const byKey = new Map(METHODS.map((m) => [keyOf(m), m]));
  for (const [key, init] of bigCalls) {
    const method = byKey.get(key);
    if (!method) throw new Error(`no method ${key}`);
    await checkedCall(method, init, `${key} (100k entries)`);
  }

  // Invalid UTF-8 in string fields, as raw protobuf over Connect and gRPC: InvalidArgument, no change.
  for (const method of METHODS) {
    for (const { where, body } of invalidUtf8Bodies(method, seeds[keyOf(method)] ?? {})) {
      const protocols = [
        ["connect", rawConnect],
        ["grpc", rawGrpc],
      ] as const;
      for (const [protocol, call] of protocols.filter(([p]) => p === "grpc" || overConnect(method))) {
        const snap = await snapshot();
        const out = await call(method, body);
        count(`${keyOf(method)} (raw ${protocol}, invalid UTF-8)`, out.code);
        // Connect's protocol layer refuses the undecodable message before any handler runs, with
        // the code grpc-go also uses for an unparseable request (docs/limits.md).
        expect([out.code, where, out.message]).toEqual([
          protocol === "connect" ? "internal" : "Internal",
          where,
          "parse binary: The encoded data was not valid for encoding utf-8",
        ]);
        expect(await snapshot()).toEqual(snap);
      }
    }
  }
  // Lone surrogates and NUL reach string fields only through JSON (binary encoders replace them):
  // Connect's JSON protocol, each top-level string field of each unary RPC.
  for (const method of METHODS.filter((m) => m.methodKind === "unary")) {
    for (const f of method.input.fields) {
      if (f.fieldKind !== "scalar" || f.scalar !== ScalarType.STRING) continue;
      for (const text of ['"\\ud800"', '"a\\u0000b"']) {
        const snap = await snapshot();
        const res = await fetch(`${base}/${method.parent.typeName}/${method.name}`, {
          method: "POST",
          headers: { "content-type": "application/json", "connect-protocol-version": "1" },
          body: `{"${f.jsonName}":${text}}`,
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await res.json()) as { code?: string; message?: string };
        const code = res.ok ? "ok" : (body.code ?? `http ${res.status}`);
        count(`${keyOf(method)} (raw connect JSON, lone surrogate / NUL)`, code);
        if (code !== "ok") {
          expect(["invalid_argument", "not_found", "failed_precondition", "resource_exhausted"]).toContain(code);
          expect(namesFieldOrLimit(method, body.message ?? ""), body.message).toBe(true);
          expect(await snapshot()).toEqual(snap);
        }
      }
    }
  }

  // Arbitrary bytes as a request body: decoded or refused, never a crash, never a write when refused.
  await assertProperty(
    fc.asyncProperty(
      fc.constantFrom(...METHODS.filter(overConnect)),
      fc.uint8Array({ maxLength: 256 }),
      async (method, body) => {
        const snap = await snapshot();
        const out = await rawConnect(method, body);
        count(`${keyOf(method)} (raw connect, random bytes)`, out.code);
        if (out.code === "internal") expect(out.message).toMatch(/^parse binary: /);
        else if (out.code !== "ok") {
          expect(["invalid_argument", "not_found", "failed_precondition", "resource_exhausted"]).toContain(out.code);
          expect(namesFieldOrLimit(method, out.message), out.message).toBe(true);
        }
        if (out.code !== "ok") {
          expect(await snapshot()).toEqual(snap);
        }
      },
    ),
    { ...fcParams, numRuns: Math.max(100, Math.floor(RUNS / 5)) },
  );
  // A request over WEFT_MAX_REQUEST_BYTES is refused before it is decoded.
  const start = byKey.get("weft.v1.WorkflowService/StartWorkflow");
  if (!start) throw new Error("no StartWorkflow");
  const tooBig = await checkedCall(start, { workflowName: "fuzz-wf", idempotencyKey: "k".repeat(MAX_REQUEST + 1) });
  expect(tooBig.ok ? "ok" : Code[tooBig.err.code]).toBe("ResourceExhausted");

  // Still up, still serving, no leak.
  const health = createClient(Health, createGrpcTransport({ baseUrl: base }));
  expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  const after = await inspect();
  let total = 0;
  const byCode = new Map<string, number>();
  const lines: string[] = [];
  for (const [key, byOutcome] of [...counts].sort()) {
    const parts = [...byOutcome].sort().map(([o, n]) => `${o}=${n}`);
    lines.push(`  ${key}: ${parts.join(" ")}`);
    for (const [o, n] of byOutcome) {
      total += n;
      byCode.set(o, (byCode.get(o) ?? 0) + n);
    }
  }
  process.stdout.write(
    [
      `journal fuzz (WEFT_FUZZ_RUNS=${RUNS}): ${total} calls; by outcome: ${[...byCode]
        .sort()
        .map(([o, n]) => `${o}=${n}`)
        .join(" ")}`,
      ...lines,
      `journal memory after GC: heap ${before.heapMb.toFixed(1)} -> ${after.heapMb.toFixed(1)} MB, rss ${before.rssMb.toFixed(1)} -> ${after.rssMb.toFixed(1)} MB`,
      "",
    ].join("\n"),
  );
  expect(after.heapMb - before.heapMb).toBeLessThan(32);
  expect(after.rssMb - before.rssMb).toBeLessThan(256);
}, 900_000);
