import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import {
  GetWorkflowResponseSchema,
  JournalService,
  StartWorkflowResponseSchema,
  WorkflowService,
} from "@weft/contracts";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accessOf,
  authInterceptor,
  authPolicyFrom,
  hashToken,
  type Principal,
  parseTokenFile,
  principalKey,
  rpcAccess,
  TokenRegistry,
} from "./auth.ts";
import { ConfigError } from "./config.ts";
import { REDACTED_PATHS } from "./logger.ts";
import { type RunningServer, startServer } from "./server.ts";

const READ_ONLY = "browser-read-only-token-0123456789";
const WRITER = "team-a-writer-token-0123456789";

describe("token files", () => {
  it("take tokens or their SHA-256, with role, namespace and read-only", () => {
    const registry = parseTokenFile(
      JSON.stringify({
        tokens: [
          { name: "console", token: READ_ONLY, namespace: "team-a", readOnly: true },
          { name: "ci", sha256: hashToken(WRITER).toString("hex"), namespace: "team-a" },
        ],
      }),
      "tokens.json",
    );
    expect(registry.authenticate(READ_ONLY)).toEqual({
      name: "console",
      role: "client",
      namespace: "team-a",
      readOnly: true,
    });
    expect(registry.authenticate(WRITER)?.name).toBe("ci");
    expect(registry.authenticate("something-else-entirely")).toBeUndefined();
  });

  it("reject bad entries with the file, the entry and the field", () => {
    const bad = (tokens: unknown) => () => parseTokenFile(JSON.stringify({ tokens }), "tokens.json");
    expect(bad([{ name: "x", token: "short", namespace: "a" }])).toThrow(/tokens\.json: tokens\.0\.token: .*16/);
    expect(bad([{ name: "x", namespace: "a" }])).toThrow("exactly one of token and sha256");
    expect(bad([{ name: "x", token: WRITER, namespace: "Team A" }])).toThrow(/tokens\.0\.namespace/);
    expect(bad([{ name: "x", token: WRITER, namespace: "a", role: "admin" }])).toThrow(/tokens\.0\.role/);
    expect(() => parseTokenFile("{", "tokens.json")).toThrow(ConfigError);
  });

  it("auth is required by default: no token at all is a configuration error; off is explicit", () => {
    expect(() => authPolicyFrom({ WEFT_AUTH: "required" })).toThrow(/WEFT_AUTH is required/);
    expect(authPolicyFrom({ WEFT_AUTH: "off" })).toEqual({ mode: "off" });
    const dir = mkdtempSync(join(tmpdir(), "weft-auth-"));
    try {
      writeFileSync(join(dir, "service"), "service-token-from-a-file\n");
      const policy = authPolicyFrom({ WEFT_AUTH: "required", WEFT_SERVICE_TOKEN_FILE: join(dir, "service") });
      expect(policy.mode === "required" && policy.tokens.authenticate("service-token-from-a-file")?.role).toBe(
        "service",
      );
      expect(() => authPolicyFrom({ WEFT_AUTH: "required", WEFT_AUTH_TOKENS_FILE: join(dir, "missing") })).toThrow(
        /WEFT_AUTH_TOKENS_FILE: cannot read/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the access table", () => {
  it("classifies every WorkflowService RPC, and an RPC missing from it needs the service token", () => {
    for (const method of WorkflowService.methods) {
      expect(rpcAccess[`${WorkflowService.typeName}/${method.name}`], method.name).toMatch(/^(read|write)$/);
    }
    for (const method of JournalService.methods) {
      expect(accessOf(`${JournalService.typeName}/${method.name}`), method.name).toBe("service");
    }
    expect(accessOf("weft.v1.WorkflowService/SomeNewRpc")).toBe("service");
    expect(accessOf("grpc.health.v1.Health/Check")).toBe("open");
  });
});

describe("logs", () => {
  it("never carry tokens, authorization headers or passwords", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: "[redacted]" } }, sink);
    logger.info({ headers: { authorization: `Bearer ${WRITER}` }, token: WRITER, WEFT_SERVICE_TOKEN: WRITER }, "x");
    logger.info({ req: { headers: { authorization: `Bearer ${WRITER}` } }, nats: { password: "pw-secret" } }, "y");
    const text = lines.join("");
    expect(text).not.toContain(WRITER);
    expect(text).not.toContain("pw-secret");
    expect(text.match(/\[redacted\]/g)?.length).toBe(5);
  });
});

describe("browsers (Connect JSON over HTTP/1.1 with CORS)", () => {
  let server: RunningServer;
  let base: string;
  const seen: Principal[] = [];
  beforeAll(async () => {
    const tokens = new TokenRegistry()
      .add({ token: READ_ONLY }, { name: "console", role: "client", namespace: "team-a", readOnly: true })
      .add({ token: WRITER }, { name: "writer", role: "client", namespace: "team-a", readOnly: false });
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      services: [WorkflowService.typeName],
      interceptors: [authInterceptor({ mode: "required", tokens })],
      cors: { origins: ["http://console.test"], headers: ["authorization"] },
      routes: (router) =>
        router.service(WorkflowService, {
          getWorkflow: (_req, ctx) => {
            seen.push(ctx.values.get(principalKey) as Principal);
            return create(GetWorkflowResponseSchema, {});
          },
          startWorkflow: () => create(StartWorkflowResponseSchema, {}),
        }),
    });
    server.health.setServing(true);
    base = `http://127.0.0.1:${server.port}/weft.v1.WorkflowService`;
  });
  afterAll(async () => {
    await server?.close();
  });

  const call = (method: string, token: string | undefined, origin = "http://console.test") =>
    fetch(`${base}/${method}`, {
      method: "POST",
      headers: {
        origin,
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: "{}",
    });

  it("allows the authorization header in preflights of configured origins", async () => {
    const pre = await fetch(`${base}/GetWorkflow`, {
      method: "OPTIONS",
      headers: {
        origin: "http://console.test",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
  });

  it("a read-only browser token reads but cannot start (PermissionDenied), and its principal reaches the handler", async () => {
    const read = await call("GetWorkflow", READ_ONLY);
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBe("http://console.test");
    expect(seen.at(-1)).toMatchObject({ name: "console", namespace: "team-a", readOnly: true });
    const write = await call("StartWorkflow", READ_ONLY);
    expect(write.status).toBe(403);
    expect(await write.json()).toEqual({
      code: "permission_denied",
      message: 'weft.v1.WorkflowService/StartWorkflow changes runs; token "console" is read-only',
    });
    expect((await call("StartWorkflow", WRITER)).status).toBe(200);
  });

  it("no token: unauthenticated; another origin: no CORS headers at all", async () => {
    const anonymous = await call("GetWorkflow", undefined);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { code: string }).code).toBe("unauthenticated");
    const foreign = await call("GetWorkflow", READ_ONLY, "http://evil.test");
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    expect(foreign.headers.get("access-control-expose-headers")).toBeNull();
  });
});
