// `node bench/src/rpc-latency.ts`: what one unary call costs between two processes on this machine,
// over each protocol the services speak (gRPC and Connect, both HTTP/2 with binary protobuf), the
// way an idle pipeline makes them: one call at a time with a pause between calls. The server is
// the services' own (startServer of @weft/runtime) answering the health check in a child process.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@weft/contracts";
import { startServer } from "@weft/runtime";
import { Command } from "commander";
import { int } from "./options.ts";

if (process.argv[2] === "--serve") {
  const server = await startServer({ port: 0, host: "127.0.0.1", services: [], routes: () => {} });
  process.send?.(server.port);
} else {
  const opts = new Command("weft-rpc-latency")
    .description("Latency and client CPU of one unary call, gRPC against Connect, between two processes.")
    .option("-n, --calls <n>", "calls per protocol and round", int("--calls", 1), 2_000)
    .option("-r, --rounds <n>", "rounds (the protocols alternate)", int("--rounds", 1), 2)
    .option("--pause-ms <n>", "pause between calls, as on an idle stack", int("--pause-ms", 1), 1)
    .parse()
    .opts<{ calls: number; rounds: number; pauseMs: number }>();
  const server = fork(fileURLToPath(import.meta.url), ["--serve"]);
  try {
    const port = await new Promise<number>((resolve) => server.once("message", (m) => resolve(m as number)));
    const baseUrl = `http://127.0.0.1:${port}`;
    const transports = {
      grpc: () => createGrpcTransport({ baseUrl }),
      connect: () => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
    };
    for (let round = 1; round <= opts.rounds; round++) {
      for (const [name, transport] of Object.entries(transports)) {
        const client = createClient(Health, transport());
        for (let i = 0; i < 300; i++) await client.check({}); // warm-up: connection, JIT
        const latencies: number[] = [];
        const cpu = process.cpuUsage();
        for (let i = 0; i < opts.calls; i++) {
          const started = performance.now();
          await client.check({});
          latencies.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, opts.pauseMs));
        }
        const used = process.cpuUsage(cpu);
        latencies.sort((a, b) => a - b);
        const at = (q: number) =>
          latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]?.toFixed(3);
        process.stdout.write(
          `round ${round} ${name.padEnd(7)} p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, client CPU ${((used.user + used.system) / opts.calls).toFixed(0)} µs per call (with its timer)\n`,
        );
      }
    }
  } finally {
    server.kill();
  }
}
