import { defineConfig } from "vitest/config";

// Tests share two cores with other suites: run files one at a time, each against real NATS.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
