// Authentication, authorization and tenancy against the real journal: every token kind × every RPC
// kind → the expected Connect code, on a run of namespace "alpha". A refused call changes nothing;
// a run of another namespace answers NotFound, exactly like a run that does not exist. The table
// printed at the end is the one in docs/security.md.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, Health, JournalService, OperatorService, RunStatus, WorkflowService } from "@weft/contracts";
import { ALL_NAMESPACES, TokenRegistry } from "@weft/runtime";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

const TOKENS = {
  service: "service-token-0123456789abcdef",
  admin: "admin-token-0123456789abcdef",
  alpha: "alpha-token-0123456789abcdef",
  alphaRead: "alpha-read-token-0123456789abcdef",
  beta: "beta-token-0123456789abcdef",
} as const;

type Caller = keyof typeof TOKENS | "none" | "unknown";
const CALLERS: Caller[] = ["none", "unknown", "service", "admin", "alpha", "alphaRead", "beta"];

const registry = new TokenRegistry()
  .add({ token: TOKENS.service }, { name: "service", role: "service", namespace: ALL_NAMESPACES, readOnly: false })
  .add({ token: TOKENS.admin }, { name: "admin", role: "client", namespace: ALL_NAMESPACES, readOnly: false })
  .add({ token: TOKENS.alpha }, { name: "alpha", role: "client", namespace: "alpha", readOnly: false })
  .add({ token: TOKENS.alphaRead }, { name: "alpha-read", role: "client", namespace: "alpha", readOnly: true })
  .add({ token: TOKENS.beta }, { name: "beta", role: "client", namespace: "beta", readOnly: false });

interface Clients {
  workflows: Client<typeof WorkflowService>;
  internal: Client<typeof JournalService>;
  operator: Client<typeof OperatorService>;
  health: Client<typeof Health>;
}

let h: Harness;
const clients = new Map<Caller, Clients>();

function clientsFor(caller: Caller, port: number): Clients {
  const token = caller === "none" ? undefined : caller === "unknown" ? "not-a-token-0123456789abcdef" : TOKENS[caller];
  const transport = createGrpcTransport({
    baseUrl: `http://127.0.0.1:${port}`,
    interceptors: [
      (next) => (req) => {
        if (token) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return {
    workflows: createClient(WorkflowService, transport),
    internal: createClient(JournalService, transport),
    operator: createClient(OperatorService, transport),
    health: createClient(Health, transport),
  };
}

const svc = () => clients.get("service")!;

async function alphaRun(): Promise<string> {
  const res = await svc().workflows.startWorkflow({ workflowName: "pipeline", namespace: "alpha" });
  return res.run!.id;
}

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    if (err instanceof ConnectError) return err.code;
    throw err;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) return; // the first message is enough
}

/** One RPC of each kind, on a fresh run of namespace "alpha"; checks nothing changed when refused. */
const RPCS: Record<string, (c: Clients, runId: string) => Promise<unknown>> = {
  "Health.Check": (c) => c.health.check({}),
  StartWorkflow: (c) => c.workflows.startWorkflow({ workflowName: "pipeline" }),
  "StartWorkflow(ns=alpha)": (c) => c.workflows.startWorkflow({ workflowName: "pipeline", namespace: "alpha" }),
  "StartWorkflows(ns=alpha)": (c) =>
    c.workflows.startWorkflows({
      starts: [{ workflowName: "pipeline" }, { workflowName: "pipeline", namespace: "alpha" }],
    }),
  GetWorkflow: (c, runId) => c.workflows.getWorkflow({ runId }),
  ListWorkflows: async (c, runId) => {
    const res = await c.workflows.listWorkflows({ pageSize: 50 });
    // A list never fails for a scope; it shows only what the token may see.
    if (!res.runs.some((r) => r.id === runId)) throw new ConnectError("run not listed", Code.NotFound);
  },
  CancelWorkflow: (c, runId) => c.workflows.cancelWorkflow({ runId, reason: "matrix" }),
  SendEvent: (c, runId) => c.workflows.sendEvent({ runId, eventName: "go", payload: encodePayload(1) }),
  WatchWorkflow: (c, runId) => drain(c.workflows.watchWorkflow({ runId })),
  GetHistory: (c, runId) => c.workflows.getHistory({ runId }),
  ResetWorkflow: (c, runId) => c.workflows.resetWorkflow({ runId, fromSeq: 1, reason: "matrix" }),
  "RetryFailed(dry run)": (c) => c.workflows.retryFailed({ dryRun: true }),
  "Operator.Diagnose": (c) => c.operator.diagnose({}),
  ClaimRuns: (c) => c.internal.claimRuns({ owner: "matrix", maxRuns: 1, leaseMs: 60_000 }),
  RecordResultBatch: (c) => c.internal.recordResultBatch({ executorId: "matrix", results: [] }),
};

const U = Code.Unauthenticated;
const P = Code.PermissionDenied;
const N = Code.NotFound;
const ok = "ok" as const;
/** Expected code per RPC, in CALLERS order: none, unknown, service, admin, alpha, alphaRead, beta. */
const EXPECTED: Record<string, (Code | "ok")[]> = {
  "Health.Check": [ok, ok, ok, ok, ok, ok, ok],
  StartWorkflow: [U, U, ok, ok, ok, P, ok],
  "StartWorkflow(ns=alpha)": [U, U, ok, ok, ok, P, P],
  "StartWorkflows(ns=alpha)": [U, U, ok, ok, ok, P, P],
  GetWorkflow: [U, U, ok, ok, ok, ok, N],
  ListWorkflows: [U, U, ok, ok, ok, ok, N],
  CancelWorkflow: [U, U, ok, ok, ok, P, N],
  SendEvent: [U, U, ok, ok, ok, P, N],
  WatchWorkflow: [U, U, ok, ok, ok, ok, N],
  GetHistory: [U, U, ok, ok, ok, ok, N],
  ResetWorkflow: [U, U, ok, ok, ok, P, N],
  "RetryFailed(dry run)": [U, U, ok, ok, ok, P, ok],
  "Operator.Diagnose": [U, U, ok, ok, P, P, P],
  ClaimRuns: [U, U, ok, P, P, P, P],
  RecordResultBatch: [U, U, ok, P, P, P, P],
};

const name = (c: Code | "ok") => (c === "ok" ? "OK" : Code[c]);
const observed = new Map<string, (Code | "ok")[]>();

beforeAll(async () => {
  h = await startHarness("journal auth matrix", { auth: { mode: "required", tokens: registry } });
  for (const caller of CALLERS) clients.set(caller, clientsFor(caller, h.journal.port));
  await svc().internal.registerWorker({ workerId: "worker-1", workflows: [{ name: "pipeline" }] });
});
afterAll(async () => {
  if (observed.size > 0) {
    const rows = [...observed].map(([rpc, codes]) => `| ${rpc} | ${codes.map(name).join(" | ")} |`);
    process.stdout.write(
      `${["", `| RPC | ${CALLERS.join(" | ")} |`, `|---|${CALLERS.map(() => "---").join("|")}|`, ...rows].join("\n")}\n`,
    );
  }
  await h?.close();
});

describe("auth matrix (tokens × RPCs → code)", () => {
  for (const [rpc, expected] of Object.entries(EXPECTED)) {
    test(`${rpc}: ${CALLERS.map((c, i) => `${c}→${name(expected[i]!)}`).join(", ")}`, async () => {
      const got: (Code | "ok")[] = [];
      for (const caller of CALLERS) {
        const runId = await alphaRun();
        const code = await codeOf(RPCS[rpc]!(clients.get(caller)!, runId));
        got.push(code);
        if (code !== "ok" && rpc !== "ListWorkflows") {
          // Refused: the run is untouched (still running, no event stored).
          const run = (await svc().workflows.getWorkflow({ runId })).run!;
          expect(run.status, `${rpc} by ${caller} changed the run`).toBe(RunStatus.RUNNING);
          const events = await h.query("SELECT 1 FROM events WHERE run_id = $1", [runId]);
          expect(events.length, `${rpc} by ${caller} stored an event`).toBe(0);
        }
      }
      observed.set(rpc, got);
      expect(got.map(name)).toEqual(expected.map(name));
    });
  }
});

describe("refusals say precisely why", () => {
  const message = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (err) {
      return err instanceof ConnectError ? `${Code[err.code]}: ${err.rawMessage}` : String(err);
    }
    return "ok";
  };

  test("no token, a malformed header, an unknown token", async () => {
    expect(await message(clients.get("none")!.workflows.getWorkflow({ runId: await alphaRun() }))).toBe(
      "Unauthenticated: weft.v1.WorkflowService/GetWorkflow needs a bearer token (authorization: Bearer <token>)",
    );
    const basic = createClient(
      WorkflowService,
      createGrpcTransport({
        baseUrl: `http://127.0.0.1:${h.journal.port}`,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
            return next(req);
          },
        ],
      }),
    );
    expect(await message(basic.listWorkflows({}))).toBe('Unauthenticated: authorization: expected "Bearer <token>"');
    expect(await message(clients.get("unknown")!.workflows.listWorkflows({}))).toBe(
      "Unauthenticated: authorization: unknown token",
    );
  });

  test("a client token on the internal API, a read-only token writing, a foreign namespace", async () => {
    expect(await message(clients.get("admin")!.internal.claimRuns({ owner: "x", maxRuns: 1 }))).toBe(
      'PermissionDenied: weft.v1.JournalService/ClaimRuns needs the service token; token "admin" is a client token',
    );
    expect(await message(clients.get("alphaRead")!.workflows.startWorkflow({ workflowName: "pipeline" }))).toBe(
      'PermissionDenied: weft.v1.WorkflowService/StartWorkflow changes runs; token "alpha-read" is read-only',
    );
    expect(
      await message(clients.get("beta")!.workflows.startWorkflow({ workflowName: "pipeline", namespace: "alpha" })),
    ).toBe('PermissionDenied: namespace: token "beta" is scoped to namespace "beta", not "alpha"');
    const runId = await alphaRun();
    const missing = "00000000-0000-4000-8000-000000000000";
    // The same answer for another namespace's run as for no run at all.
    expect(await message(clients.get("beta")!.workflows.getWorkflow({ runId }))).toBe(
      `NotFound: run_id: run ${runId} does not exist`,
    );
    expect(await message(clients.get("beta")!.workflows.getWorkflow({ runId: missing }))).toBe(
      `NotFound: run_id: run ${missing} does not exist`,
    );
    expect(
      await message(clients.get("admin")!.workflows.startWorkflow({ workflowName: "pipeline", namespace: "Bad NS" })),
    ).toMatch(/^InvalidArgument: namespace: "Bad NS" is not a namespace/);
  });
});

describe("tenancy", () => {
  test("a run goes to the token's namespace; lists show only that namespace", async () => {
    const a = (await clients.get("alpha")!.workflows.startWorkflow({ workflowName: "pipeline" })).run!;
    const b = (await clients.get("beta")!.workflows.startWorkflow({ workflowName: "pipeline" })).run!;
    const d = (await clients.get("admin")!.workflows.startWorkflow({ workflowName: "pipeline" })).run!;
    expect([a.namespace, b.namespace, d.namespace]).toEqual(["alpha", "beta", "default"]);
    const listed = async (caller: Caller, namespace = "") =>
      new Set(
        (await clients.get(caller)!.workflows.listWorkflows({ pageSize: 50, namespace })).runs.map((r) => r.namespace),
      );
    expect(await listed("beta")).toEqual(new Set(["beta"]));
    expect(await listed("alphaRead")).toEqual(new Set(["alpha"]));
    expect(await listed("admin")).toEqual(new Set(["alpha", "beta", "default"]));
    expect(await listed("admin", "beta")).toEqual(new Set(["beta"]));
    await expect(clients.get("beta")!.workflows.listWorkflows({ namespace: "alpha" })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  test("idempotency keys are per namespace", async () => {
    const alpha1 = await clients
      .get("alpha")!
      .workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "k-1" });
    const beta1 = await clients
      .get("beta")!
      .workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "k-1" });
    const alpha2 = await clients
      .get("alpha")!
      .workflows.startWorkflow({ workflowName: "pipeline", idempotencyKey: "k-1" });
    expect(beta1.existing).toBe(false);
    expect(beta1.run?.id).not.toBe(alpha1.run?.id);
    expect(alpha2.existing).toBe(true);
    expect(alpha2.run?.id).toBe(alpha1.run?.id);
  });

  test("a child run inherits its parent's namespace", async () => {
    const parent = await alphaRun();
    const child = "0190aaaa-0000-7000-8000-000000000001";
    await h.query(
      "INSERT INTO runs (id, workflow_name, status, parent_run_id, parent_seq, shard) VALUES ($1, 'pipeline', 'running', $2, 0, 0)",
      [child, parent],
    );
    const [row] = await h.query<{ namespace: string }>("SELECT namespace FROM runs WHERE id = $1", [child]);
    expect(row?.namespace).toBe("alpha");
    await expect(clients.get("beta")!.workflows.getHistory({ runId: child })).rejects.toMatchObject({ code: N });
  });
});
