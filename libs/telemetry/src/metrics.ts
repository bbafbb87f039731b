// Prometheus metrics per process (prom-client): a registry with Node's default metrics (heap,
// event-loop lag, GC) and an HTTP handler for GET /metrics.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "weft_" });
  return registry;
}

/** Serves the registry on GET /metrics; anything else is 404. */
export function metricsHandler(registry: Registry) {
  return (
    req: { method?: string; url?: string },
    res: { statusCode: number; setHeader(name: string, value: string): unknown; end(body: string): unknown },
  ): void => {
    const reply = (status: number, type: string, body: string) => {
      res.statusCode = status;
      res.setHeader("content-type", type);
      res.end(body);
    };
    if (req.method !== "GET" || !req.url?.startsWith("/metrics")) {
      reply(404, "text/plain", "not found\n");
      return;
    }
    registry.metrics().then(
      (body) => reply(200, registry.contentType, body),
      (err: Error) => reply(500, "text/plain", `${err.message}\n`),
    );
  };
}

/** Batch-size buckets: powers of two up to 4096. */
export const batchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
