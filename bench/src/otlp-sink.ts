// A local OTLP/HTTP receiver that accepts and counts trace exports, so that the benchmark can
// measure what tracing with the default sampler costs when spans really leave the process.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  url: string;
  stats: { requests: number; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      stats.bytes += chunk.length;
    });
    req.on("end", () => {
      stats.requests++;
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
