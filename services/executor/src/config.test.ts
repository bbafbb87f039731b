// Environment parsing: documented defaults, and a bad value names its variable.
import { describe, expect, test } from "vitest";
import { executorConfigFromEnv } from "./config.ts";

describe("executorConfigFromEnv", () => {
  test("applies the documented defaults", () => {
    const { config, appPath } = executorConfigFromEnv({ WEFT_APP: "./app.ts" });
    expect(appPath).toBe("./app.ts");
    expect(config).toMatchObject({
      port: 7235,
      concurrency: 1024,
      fetchBatch: 256,
      flushMaxResults: 500,
      flushMaxBytes: 4 * 1024 * 1024,
      shardLeaseMs: 10_000,
      maxInflightBytes: 256 * 1024 * 1024,
      maxHeapBytes: 1024 * 1024 * 1024,
      drainTimeoutMs: 20_000,
      queueLagIntervalMs: 5_000,
      prefix: "weft",
      journalUrl: "http://127.0.0.1:7233",
    });
    expect(config.executorId).toMatch(/-\d+$/);
  });

  test("reads overrides", () => {
    const { config } = executorConfigFromEnv({
      WEFT_APP: "/app.ts",
      WEFT_EXECUTOR_ID: "exec-1",
      WEFT_EXECUTOR_CONCURRENCY: "8",
      WEFT_MAX_HEAP_MB: "512",
    });
    expect(config).toMatchObject({ executorId: "exec-1", concurrency: 8, maxHeapBytes: 512 * 1024 * 1024 });
  });

  test("a missing WEFT_APP or a bad number names the variable", () => {
    expect(() => executorConfigFromEnv({})).toThrow(/WEFT_APP/);
    expect(() => executorConfigFromEnv({ WEFT_APP: "a.ts", WEFT_EXECUTOR_CONCURRENCY: "0" })).toThrow(
      /WEFT_EXECUTOR_CONCURRENCY/,
    );
    expect(() => executorConfigFromEnv({ WEFT_APP: "a.ts", WEFT_FLUSH_MAX_BYTES: "lots" })).toThrow(
      /WEFT_FLUSH_MAX_BYTES/,
    );
  });
});
