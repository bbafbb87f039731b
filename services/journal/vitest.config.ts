// Journal tests: unit tests beside the code, integration tests in test/ against real Postgres + NATS.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "journal",
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
