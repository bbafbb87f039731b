// A local OTLP/HTTP receiver that accepts and counts trace exports, so that the benchmark can
// measure what tracing with the default sampler costs when spans really leave the process, and
// show that none was dropped on the way (spans are counted per service and per name).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export interface OtlpSinkStats {
  requests: number;
  bytes: number;
  spans: number;
  /** Spans per `service: first word of the span name` (e.g. `executor: execute`). */
  byName: Map<string, number>;
}

export interface OtlpSink {
  url: string;
  stats: OtlpSinkStats;
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const stats: OtlpSinkStats = { requests: 0, bytes: 0, spans: 0, byName: new Map() };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      stats.bytes += chunk.length;
      chunks.push(chunk);
    });
    req.on("end", () => {
      stats.requests++;
      const body = Buffer.concat(chunks);
      try {
        if (req.headers["content-type"]?.includes("json")) countJson(body, stats);
        else countProtobuf(body, stats);
      } catch {
        // counted as bytes only
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const tally = (stats: OtlpSinkStats, service: string, name: string) => {
  stats.spans++;
  const key = `${service.replace(/^weft-/, "")}: ${name.split(" ")[0]}`;
  stats.byName.set(key, (stats.byName.get(key) ?? 0) + 1);
};

/** Calls `each(field, reader)` for every length-delimited field of a message, skipping the rest. */
function fields(bytes: Uint8Array, each: (field: number, value: Uint8Array) => void): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (wire === WireType.LengthDelimited) each(field, r.bytes());
    else r.skip(wire);
  }
}

// ExportTraceServiceRequest{1: ResourceSpans{1: Resource{1: KeyValue{1 key, 2 AnyValue{1 string}}},
// 2: ScopeSpans{2: Span{5: name}}}}
function countProtobuf(body: Uint8Array, stats: OtlpSinkStats): void {
  const text = new TextDecoder();
  fields(body, (f, resourceSpans) => {
    if (f !== 1) return;
    let service = "?";
    const scopes: Uint8Array[] = [];
    fields(resourceSpans, (f2, v) => {
      if (f2 === 1) {
        fields(v, (f3, kv) => {
          if (f3 !== 1) return;
          let key = "";
          let value = "";
          fields(kv, (f4, x) => {
            if (f4 === 1) key = text.decode(x);
            else if (f4 === 2)
              fields(x, (f5, s) => {
                if (f5 === 1) value = text.decode(s);
              });
          });
          if (key === "service.name") service = value;
        });
      } else if (f2 === 2) scopes.push(v);
    });
    for (const scope of scopes) {
      fields(scope, (f3, span) => {
        if (f3 !== 2) return;
        let name = "";
        fields(span, (f4, v) => {
          if (f4 === 5) name = text.decode(v);
        });
        tally(stats, service, name);
      });
    }
  });
}

interface JsonExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { name: string }[] }[];
  }[];
}

function countJson(body: Buffer, stats: OtlpSinkStats): void {
  const data = JSON.parse(body.toString("utf8")) as JsonExport;
  for (const rs of data.resourceSpans ?? []) {
    const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
    for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) tally(stats, service, s.name);
  }
}
