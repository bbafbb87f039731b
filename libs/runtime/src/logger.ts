// Structured JSON logs (pino), one root logger per process. A line logged inside a span carries
// its trace_id and span_id, so logs and traces of one workflow run can be joined.
import { trace } from "@opentelemetry/api";
import { type Logger, pino } from "pino";

export type { Logger };

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** Secrets never reach a log line, whatever object carries them. */
export const REDACTED_PATHS = [
  "authorization",
  "token",
  "password",
  "*.authorization",
  "*.token",
  "*.password",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "WEFT_SERVICE_TOKEN",
  "WEFT_TOKEN",
  "WEFT_NATS_PASSWORD",
  "WEFT_NATS_TOKEN",
  "*.WEFT_SERVICE_TOKEN",
  "*.WEFT_TOKEN",
  "*.WEFT_NATS_PASSWORD",
  "*.WEFT_NATS_TOKEN",
];

export function createLogger(service: string, level: string = process.env.WEFT_LOG_LEVEL ?? "info"): Logger {
  return pino({
    name: service,
    level,
    base: { service, pid: process.pid },
    mixin: traceFields,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
  });
}
