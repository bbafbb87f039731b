// A local OTLP/HTTP receiver that accepts and counts trace exports, so that the benchmark can
// measure what tracing with the default sampler costs when spans really leave the process.
import http from "node:http";
export async function startOtlpSink() {
  const stats = { requests: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on("data", (chunk) => {
      stats.bytes += chunk.length;
    });
    req.on("end", () => {
      stats.requests++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
