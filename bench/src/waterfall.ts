// Where one pipeline's latency goes: runs a few pipelines one at a time on an idle stack with
// tracing on, exporting to an in-process collector, and prints each run's spans as a waterfall
// (offset from the run's first span, and duration, in ms). `node bench/src/waterfall.ts [-n 3]`
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, RunStatus, WorkflowService } from "@weft/contracts";
import { bearerInterceptor } from "@weft/runtime";
import { startStack } from "@weft/stack";
import { createTestEnvironment, startOtlpCollector } from "@weft/testkit";

const out = (line: string) => process.stdout.write(`${line}\n`);
const n = Number(process.argv[process.argv.indexOf("-n") + 1]) || 3;
const env = await createTestEnvironment("waterfall");
const collector = await startOtlpCollector();
const stack = await startStack({
  env: {
    ...env.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "200",
    WEFT_LOG_LEVEL: "info",
  },
  app: fileURLToPath(new URL("./app.ts", import.meta.url)),
  coordinators: 1,
  executors: 1,
  journalPort: 0,
});
try {
  const client = createClient(
    WorkflowService,
    createGrpcTransport({
      baseUrl: stack.journalUrl,
      interceptors: [bearerInterceptor(stack.token)],
    }),
  );
  const ids: string[] = [];
  for (let i = 0; i < n + 2; i++) {
    const res = await client.startWorkflow({
      workflowName: "bench.pipeline",
      args: encodePayload({ text: `run ${i}`, ms: [0, 0, 0, 0] }),
    });
    const id = res.run?.id ?? "";
    for await (const u of client.watchWorkflow({ runId: id })) if (u.run && u.run.status !== RunStatus.RUNNING) break;
    ids.push(id);
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1500));
  for (const id of ids.slice(2)) {
    const start = collector.spans.find((s) => s.name.includes("StartWorkflow") && s.attributes["weft.run.id"] === id);
    const traceId = start?.traceId ?? collector.spans.find((s) => s.attributes["weft.run.id"] === id)?.traceId ?? "";
    const own = collector.spans.filter((s) => s.traceId === traceId).sort((a, b) => a.startMs - b.startMs);
    const t0 = own[0]?.startMs ?? 0;
    const t1 = Math.max(...own.map((s) => s.endMs));
    // Batch spans (claims, commits, result batches) live in traces of their own: show those that
    // overlap the run, marked with *.
    const spans = collector.spans
      .filter(
        (s) =>
          s.traceId === traceId ||
          (s.startMs >= t0 && s.startMs <= t1 && !/^(pg|INSERT|UPDATE|SELECT|BEGIN|COMMIT)/.test(s.name)),
      )
      .sort((a, b) => a.startMs - b.startMs);
    out(`\nrun ${id} (${spans.length} spans)`);
    for (const s of spans)
      out(
        `${(s.startMs - t0).toFixed(2).padStart(8)} +${(s.endMs - s.startMs).toFixed(2).padStart(7)}  ${s.traceId === traceId ? " " : "*"} ${s.service.padEnd(18)} ${s.name}`,
      );
  }
} finally {
  await stack.stop();
  await collector.close();
  await env.cleanup();
}
