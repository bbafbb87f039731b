// A small OTLP/HTTP trace receiver for tests: services export with
// OTEL_EXPORTER_OTLP_PROTOCOL=http/json to its URL, and the test reads back every span with the
// service that sent it. (OTLP/JSON: ids are hex strings, enums numbers.)
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  /** Start and end, in ms since the epoch (fractional). */
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  links: { traceId: string; spanId: string }[];
  status?: { code?: number; message?: string };
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}

const attrs = (list: OtlpKeyValue[] | undefined): Record<string, unknown> =>
  Object.fromEntries(
    (list ?? []).map((kv) => [
      kv.key,
      kv.value.stringValue ?? kv.value.intValue ?? kv.value.doubleValue ?? kv.value.boolValue,
    ]),
  );

export interface OtlpCollector {
  readonly url: string;
  readonly spans: CollectedSpan[];
  close(): Promise<void>;
}

export async function startOtlpCollector(): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        if (req.url?.startsWith("/v1/traces")) {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            resourceSpans?: {
              resource?: { attributes?: OtlpKeyValue[] };
              scopeSpans?: { spans?: Record<string, unknown>[] }[];
            }[];
          };
          for (const rs of body.resourceSpans ?? []) {
            const service = String(attrs(rs.resource?.attributes)["service.name"] ?? "");
            for (const ss of rs.scopeSpans ?? []) {
              for (const s of ss.spans ?? []) {
                spans.push({
                  service,
                  traceId: String(s.traceId),
                  spanId: String(s.spanId),
                  parentSpanId: String(s.parentSpanId ?? ""),
                  name: String(s.name),
                  kind: Number(s.kind),
                  startMs: Number(BigInt(String(s.startTimeUnixNano ?? 0)) / 1000n) / 1000,
                  endMs: Number(BigInt(String(s.endTimeUnixNano ?? 0)) / 1000n) / 1000,
                  attributes: attrs(s.attributes as OtlpKeyValue[]),
                  events: ((s.events as { name: string; attributes?: OtlpKeyValue[] }[]) ?? []).map((e) => ({
                    name: e.name,
                    attributes: attrs(e.attributes),
                  })),
                  links: ((s.links as { traceId: string; spanId: string }[]) ?? []).map((l) => ({
                    traceId: l.traceId,
                    spanId: l.spanId,
                  })),
                  status: s.status as CollectedSpan["status"],
                });
              }
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      } catch (err) {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
