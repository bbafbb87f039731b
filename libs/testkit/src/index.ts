// Test fixtures: an isolated Postgres database and JetStream prefix per test file, and real
// service processes for crash and end-to-end tests.

export { type ServiceProcess, type SpawnOptions, spawnService } from "@weft/stack";
export * from "./database.ts";
export * from "./environment.ts";
export * from "./jetstream.ts";
export * from "./names.ts";
export * from "./nats-server.ts";
export * from "./otlp-collector.ts";
