// Telemetry for libraries and services: trace context propagation (RPC, NATS, persisted),
// Connect interceptors, and Prometheus metrics. The SDK start-up is in "@weft/telemetry/sdk".

export { type Attributes, context, type Link, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
export * from "./interceptors.ts";
export * from "./metrics.ts";
export * from "./propagation.ts";
