// The real entry points: migrate.ts applies the schema and exits; main.ts serves and stops on SIGTERM.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@weft/contracts";
import { createTestEnvironment, spawnService, type TestEnvironment } from "@weft/testkit";
import { afterAll, beforeAll, expect, test } from "vitest";

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment("journal process");
});
afterAll(async () => {
  await env?.cleanup();
});

const entry = (name: string) => fileURLToPath(new URL(`../src/${name}`, import.meta.url));

test("migrate then serve, healthy, and exit 0 on SIGTERM", async () => {
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [entry("migrate.ts")], {
      env: { ...process.env, ...env.env },
      stdio: "ignore",
    });
    child.once("exit", resolve);
  });
  expect(code).toBe(0);
  const journal = await spawnService({
    name: "journal",
    entry: entry("main.ts"),
    env: {
      ...env.env,
      WEFT_JOURNAL_PORT: "0",
      WEFT_JOURNAL_HOST: "127.0.0.1",
      WEFT_SERVICE_TOKEN: "process-test-service-token",
    },
  });
  try {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${journal.port}` }));
    const res = await health.check({ service: "weft.v1.WorkflowService" });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  } finally {
    expect(await journal.stop()).toBe(0);
  }
});

async function failedStart(extra: Record<string, string>) {
  return new Promise<{ code: number | null; text: string }>((resolve) => {
    const { WEFT_SERVICE_TOKEN: _t, WEFT_AUTH_TOKENS_FILE: _f, WEFT_AUTH: _a, ...inherited } = process.env;
    const child = spawn(process.execPath, [entry("main.ts")], {
      env: { ...inherited, ...env.env, ...extra },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    child.stdout?.on("data", (d) => (text += d));
    child.stderr?.on("data", (d) => (text += d));
    child.once("exit", (code) => resolve({ code, text }));
  });
}

test("a bad setting stops the process with a message naming the variable", async () => {
  const out = await failedStart({ WEFT_SHARDS: "-3" });
  expect(out.code).not.toBe(0);
  expect(out.text).toContain("WEFT_SHARDS");
});

test("auth is required by default: without any token the journal refuses to start", async () => {
  const out = await failedStart({});
  expect(out.code).not.toBe(0);
  expect(out.text).toContain("WEFT_AUTH is required (the default) but no token is configured");
});
