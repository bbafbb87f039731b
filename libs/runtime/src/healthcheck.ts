// `node healthcheck.ts [host:port] [service]`: asks a Weft process's grpc.health.v1 Check and
// exits 0 when SERVING, 1 otherwise. Used by the images' HEALTHCHECK.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@weft/contracts";

const target = process.argv[2] ?? "127.0.0.1:7233";
const service = process.argv[3] ?? "";
const client = createClient(Health, createGrpcTransport({ baseUrl: `http://${target}` }));
try {
  const res = await client.check({ service }, { timeoutMs: 3_000 });
  const serving = res.status === HealthCheckResponse_ServingStatus.SERVING;
  process.stdout.write(`${HealthCheckResponse_ServingStatus[res.status]}\n`);
  process.exit(serving ? 0 : 1);
} catch (err) {
  process.stderr.write(`health check of ${target} failed: ${(err as Error).message}\n`);
  process.exit(1);
}
