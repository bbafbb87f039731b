// The whole suite: every package's tests, against the real Postgres and NATS. Each test file
// isolates itself (own database, own JetStream prefix), so files may run side by side.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: ["libs/*", "services/*", "examples/*", "tests/*", "apps/*", "deploy"],
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
