import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "chaos",
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 60_000,
    // Each file runs its own Postgres and nats-servers: one file at a time keeps the 2-core CI sane.
    fileParallelism: false,
  },
});
