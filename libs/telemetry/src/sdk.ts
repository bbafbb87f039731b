// Starts the OpenTelemetry Node SDK for a service process from the standard OTEL_* variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...). Only service entry
// points import this module; libraries use @opentelemetry/api alone.
import { NodeSDK } from "@opentelemetry/sdk-node";

export interface TelemetryHandle {
  readonly enabled: boolean;
  /** Flushes every pending span; call it last at shutdown so that no span is lost. */
  shutdown(): Promise<void>;
}

/**
 * Tracing is on when an exporter is configured (OTEL_TRACES_EXPORTER, or an OTLP endpoint);
 * without one there is nowhere to send spans, so the SDK is not started.
 */
export function startTelemetry(serviceName: string, env: NodeJS.ProcessEnv = process.env): TelemetryHandle {
  const configured =
    env.OTEL_TRACES_EXPORTER !== undefined ||
    env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
  if (env.OTEL_SDK_DISABLED === "true" || !configured) {
    return { enabled: false, shutdown: async () => {} };
  }
  // Metrics are served by prom-client on /metrics, logs by pino: only traces go over OTLP.
  env.OTEL_METRICS_EXPORTER ??= "none";
  env.OTEL_LOGS_EXPORTER ??= "none";
  const sdk = new NodeSDK({ serviceName: env.OTEL_SERVICE_NAME ?? serviceName, instrumentations: [] });
  sdk.start();
  return { enabled: true, shutdown: () => sdk.shutdown() };
}
