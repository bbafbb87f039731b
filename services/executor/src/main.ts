// Entry point of the executor process: telemetry first (so every span has a provider), config from
// the environment, the app module, the executor, and shutdown on SIGTERM/SIGINT. Shutdown steps run
// in reverse order of adding: the executor drains (flush, acks) first, telemetry flushes its spans
// last, so no span of the drain is lost.
import { createLogger, Shutdown } from "@weft/runtime";
import { loadApp } from "@weft/sdk";
import { startTelemetry } from "@weft/telemetry/sdk";
import { executorConfigFromEnv } from "./config.ts";
import { startExecutor } from "./executor.ts";

const telemetry = startTelemetry("weft-executor");
const { config, appPath, logLevel } = executorConfigFromEnv();
const logger = createLogger("executor", logLevel);
try {
  const app = await loadApp(appPath);
  const executor = await startExecutor({ config, app, logger });
  // The drain has its own deadline; the shutdown deadline leaves room for flushing and closing after it.
  const shutdown = new Shutdown(logger, config.drainTimeoutMs + 15_000);
  shutdown.add("telemetry", () => telemetry.shutdown());
  shutdown.add("executor", () => executor.stop());
  shutdown.onSignals();
  logger.info({ port: executor.port, tracing: telemetry.enabled }, "listening");
} catch (err) {
  logger.fatal({ err }, "executor failed to start");
  await telemetry.shutdown().catch(() => {});
  process.exit(1);
}
