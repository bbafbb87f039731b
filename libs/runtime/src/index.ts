// Runtime pieces every Weft service shares: config, logs, server, health, shutdown, NATS naming.
export * from "./auth.ts";
export * from "./config.ts";
export * from "./cors.ts";
export * from "./health.ts";
export * from "./logger.ts";
export * from "./nats.ts";
export * from "./server.ts";
export * from "./shutdown.ts";
export * from "./subjects.ts";
