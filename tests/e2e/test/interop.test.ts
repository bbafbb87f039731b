// gRPC interoperability of the Connect server: a plain @grpc/grpc-js client, loading the .proto
// files at run time (no generated TS), starts a pipeline and reads its result; bad input gets
// gRPC status codes with messages that name the field, and writes nothing.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { expectedSummary } from "@weft/example-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./harness.ts";

const protoRoot = fileURLToPath(new URL("../../../proto", import.meta.url));

interface GrpcRun {
  id: string;
  status: string;
  result: Buffer;
}
type Unary<Req, Res> = (req: Req, callback: (err: grpc.ServiceError | null, res: Res) => void) => void;
interface WorkflowServiceClient extends grpc.Client {
  StartWorkflow: Unary<
    { workflowName: string; args: Buffer; idempotencyKey?: string },
    { run: GrpcRun; existing: boolean }
  >;
  GetWorkflow: Unary<{ runId: string }, { run: GrpcRun }>;
  ListWorkflows: Unary<{ pageSize: number }, { runs: GrpcRun[] }>;
  SendEvent: Unary<{ runId: string; eventName: string; payload: Buffer }, unknown>;
  CancelWorkflow: Unary<{ runId: string }, unknown>;
  GetHistory: Unary<{ runId: string }, unknown>;
  WatchWorkflow(req: { runId: string }): grpc.ClientReadableStream<{ run: GrpcRun }>;
}

let h: Harness;
let client: WorkflowServiceClient;

function call<Req, Res>(method: Unary<Req, Res>, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))));
}

beforeAll(async () => {
  h = await startHarness("interop");
  const definition = protoLoader.loadSync("weft/v1/workflow_service.proto", {
    includeDirs: [protoRoot],
    keepCase: false,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    weft: {
      v1: {
        WorkflowService: new (
          address: string,
          creds: grpc.ChannelCredentials,
          options: grpc.ClientOptions,
        ) => WorkflowServiceClient;
      };
    };
  };
  // The stack's client token as gRPC metadata, on every call (docs/security.md).
  const bearer: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set("authorization", `Bearer ${h.stack.token}`);
        next(metadata, listener);
      },
    });
  client = new loaded.weft.v1.WorkflowService(new URL(h.stack.journalUrl).host, grpc.credentials.createInsecure(), {
    interceptors: [bearer],
  });
});
afterAll(async () => {
  client?.close();
  await h?.stop();
});

describe("@grpc/grpc-js against the journal", () => {
  it("starts a pipeline and streams it to its result", async () => {
    const input = { id: 1, text: "hello from grpc-js" };
    const started = await call(client.StartWorkflow, {
      workflowName: "pipeline",
      args: Buffer.from(JSON.stringify(input)),
    });
    expect(started.run.status).toBe("RUN_STATUS_RUNNING");
    const final = await new Promise<GrpcRun>((resolve, reject) => {
      const stream = client.WatchWorkflow({ runId: started.run.id });
      let last: GrpcRun | undefined;
      stream.on("data", (msg: { run: GrpcRun }) => {
        last = msg.run;
      });
      stream.on("end", () => (last ? resolve(last) : reject(new Error("no update"))));
      stream.on("error", reject);
    });
    expect(final.status).toBe("RUN_STATUS_COMPLETED");
    expect(JSON.parse(final.result.toString("utf8"))).toBe(expectedSummary(input));
    const got = await call(client.GetWorkflow, { runId: started.run.id });
    expect(got.run.id).toBe(started.run.id);
  });

  it("rejects bad input with precise codes and writes nothing", async () => {
    const before = await h.sql<{ runs: string; events: string }>(
      "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM events) AS events",
    );
    const cases: Array<[string, () => Promise<unknown>, grpc.status | -1, RegExp]> = [
      [
        "unknown workflow",
        () => call(client.StartWorkflow, { workflowName: "nope", args: Buffer.from("1") }),
        grpc.status.NOT_FOUND,
        /workflow_name/,
      ],
      [
        "bad JSON args",
        () => call(client.StartWorkflow, { workflowName: "pipeline", args: Buffer.from("{not json") }),
        grpc.status.INVALID_ARGUMENT,
        /args/,
      ],
      [
        "invalid UTF-8",
        () => call(client.StartWorkflow, { workflowName: "pipeline", args: Buffer.from([0xff, 0xfe]) }),
        grpc.status.INVALID_ARGUMENT,
        /args/,
      ],
      [
        "payload over the limit",
        () =>
          call(client.StartWorkflow, {
            workflowName: "pipeline",
            args: Buffer.from(JSON.stringify("x".repeat(2 * 1024 * 1024))),
          }),
        -1,
        /args/,
      ],
      [
        "malformed run id",
        () => call(client.GetWorkflow, { runId: "not-a-uuid" }),
        grpc.status.INVALID_ARGUMENT,
        /run_id/,
      ],
      [
        "unknown run",
        () => call(client.GetWorkflow, { runId: "0192f5d0-0000-7000-8000-000000000000" }),
        grpc.status.NOT_FOUND,
        /run/,
      ],
      [
        "negative page size",
        () => call(client.ListWorkflows, { pageSize: -1 }),
        grpc.status.INVALID_ARGUMENT,
        /page_size/,
      ],
      [
        "event to a malformed id",
        () => call(client.SendEvent, { runId: "x", eventName: "go", payload: Buffer.from("1") }),
        grpc.status.INVALID_ARGUMENT,
        /run_id/,
      ],
      [
        "cancel a malformed id",
        () => call(client.CancelWorkflow, { runId: "" }),
        grpc.status.INVALID_ARGUMENT,
        /run_id/,
      ],
      [
        "history of a malformed id",
        () => call(client.GetHistory, { runId: "123" }),
        grpc.status.INVALID_ARGUMENT,
        /run_id/,
      ],
    ];
    for (const [name, fn, code, message] of cases) {
      const err = (await fn().then(
        () => undefined,
        (e: unknown) => e,
      )) as grpc.ServiceError | undefined;
      expect(err, name).toBeDefined();
      if (code === -1)
        expect([grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED], name).toContain(err?.code);
      else expect(err?.code, name).toBe(code);
      expect(err?.details, name).toMatch(message);
    }
    const after = await h.sql<{ runs: string; events: string }>(
      "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM events) AS events",
    );
    expect(after).toEqual(before);
  });
});
