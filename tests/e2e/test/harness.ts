// One isolated Weft stack per test file: private database and JetStream prefix, the three real
// service processes loading fixtures/app.ts, a Connect client and the side-effect log.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  decodePayload,
  encodePayload,
  type GetHistoryResponse,
  type Run,
  RunStatus,
  StartWorkflowRequestSchema,
  WorkflowService,
} from "@weft/contracts";
import { bearerInterceptor } from "@weft/runtime";
import { type Stack, type StackOptions, startStack } from "@weft/stack";
import { createTestEnvironment, type TestEnvironment } from "@weft/testkit";
import pg from "pg";
import { readSideEffects, type SideEffect } from "../fixtures/side-effects.ts";

export const appPath = fileURLToPath(new URL("../fixtures/app.ts", import.meta.url));
export const versionedAppPath = fileURLToPath(new URL("../fixtures/versioned.ts", import.meta.url));

export interface Harness {
  env: TestEnvironment;
  stack: Stack;
  client: Client<typeof WorkflowService>;
  sideEffectLog: string;
  start(workflowName: string, args: unknown, idempotencyKey?: string): Promise<Run>;
  /** Watches the run until it ends and returns its final state. */
  finished(runId: string, timeoutMs?: number): Promise<Run>;
  result<T = unknown>(run: Run): T;
  history(runId: string): Promise<GetHistoryResponse>;
  sideEffects(): SideEffect[];
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startHarness(
  testName: string,
  options: Partial<Omit<StackOptions, "env">> & { env?: Record<string, string> } = {},
): Promise<Harness> {
  const env = await createTestEnvironment(testName);
  const dir = mkdtempSync(join(tmpdir(), "weft-e2e-"));
  const sideEffectLog = join(dir, "side-effects.jsonl");
  let stack: Stack;
  try {
    stack = await startStack({
      ...options,
      env: {
        ...env.env,
        WEFT_LOG_LEVEL: "info",
        WEFT_SIDE_EFFECT_LOG: sideEffectLog,
        WEFT_SAFETY_POLL_MS: "500",
        ...options.env,
      },
      app: options.app ?? appPath,
      logDir: process.env.WEFT_TEST_LOG_DIR ? join(process.env.WEFT_TEST_LOG_DIR, testName) : undefined,
    });
  } catch (err) {
    await env.cleanup();
    throw err;
  }
  const client = createClient(
    WorkflowService,
    createGrpcTransport({
      baseUrl: stack.journalUrl,
      interceptors: [bearerInterceptor(stack.token)],
    }),
  );
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });

  const finished = async (runId: string, timeoutMs = 60_000): Promise<Run> => {
    const deadline = Date.now() + timeoutMs;
    let last: Run | undefined;
    while (Date.now() < deadline) {
      const signal = AbortSignal.timeout(Math.max(deadline - Date.now(), 1));
      try {
        for await (const update of client.watchWorkflow({ runId }, { signal })) {
          last = update.run;
          if (last && last.status !== RunStatus.RUNNING) return last;
        }
      } catch (err) {
        if (Date.now() >= deadline) break;
        // The journal may be restarting in crash tests: watch again.
        await new Promise((resolve) => setTimeout(resolve, 200));
        void err;
      }
    }
    throw new Error(`run ${runId} did not finish within ${timeoutMs} ms (last status ${last?.status})`);
  };

  return {
    env,
    stack,
    client,
    sideEffectLog,
    start: async (workflowName, args, idempotencyKey = "") => {
      const res = await client.startWorkflow(
        create(StartWorkflowRequestSchema, { workflowName, args: encodePayload(args), idempotencyKey }),
      );
      if (!res.run) throw new Error("StartWorkflow returned no run");
      return res.run;
    },
    finished,
    result: <T>(run: Run) => decodePayload<T>(run.result),
    history: (runId) => client.getHistory({ runId }),
    sideEffects: () => readSideEffects(sideEffectLog),
    sql: async (text, values) => (await pool.query(text, values)).rows,
    stop: async () => {
      await pool.end();
      try {
        await stack.stop();
      } finally {
        await env.cleanup();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
