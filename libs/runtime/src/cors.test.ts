import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "./server.ts";

let server: RunningServer;
let base: string;
beforeAll(async () => {
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    services: [],
    routes: () => {},
    cors: { origins: ["http://console.test"] },
  });
  server.health.setServing(true);
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
});

describe("CORS on the service port", () => {
  it("answers a preflight from an allowed origin with the Connect headers", async () => {
    const res = await fetch(`${base}/grpc.health.v1.Health/Check`, {
      method: "OPTIONS",
      headers: {
        origin: "http://console.test",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://console.test");
    expect(res.headers.get("access-control-allow-headers")).toMatch(/connect-protocol-version/i);
  });

  it("serves a Connect JSON call from an allowed origin with CORS headers", async () => {
    const res = await fetch(`${base}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { origin: "http://console.test", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://console.test");
    expect(res.headers.get("access-control-expose-headers")).toMatch(/grpc-status/i);
  });

  it("refuses a preflight from another origin and sets no CORS header on its calls", async () => {
    const pre = await fetch(`${base}/grpc.health.v1.Health/Check`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.test", "access-control-request-method": "POST" },
    });
    expect(pre.status).toBe(403);
    const res = await fetch(`${base}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { origin: "http://evil.test", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
