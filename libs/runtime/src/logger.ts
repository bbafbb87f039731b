// Structured JSON logs (pino), one root logger per process.
import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(service: string, level: string = process.env.WEFT_LOG_LEVEL ?? "info"): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } });
}
