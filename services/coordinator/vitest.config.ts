import { defineConfig } from "vitest/config";

export default defineConfig({ test: { name: "coordinator", include: ["src/**/*.test.ts", "test/**/*.test.ts"] } });
