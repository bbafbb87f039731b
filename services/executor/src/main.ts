// Entry point of the executor process: config from the environment, the app module, the executor,
// and shutdown on SIGTERM/SIGINT.
import { createLogger, Shutdown } from "@weft/runtime";
import { loadApp } from "@weft/sdk";
import { executorConfigFromEnv } from "./config.ts";
import { startExecutor } from "./executor.ts";

const { config, appPath, logLevel } = executorConfigFromEnv();
const logger = createLogger("executor", logLevel);
try {
  const app = await loadApp(appPath);
  const executor = await startExecutor({ config, app, logger });
  // The drain has its own deadline; the shutdown deadline leaves room for flushing and closing after it.
  const shutdown = new Shutdown(logger, config.drainTimeoutMs + 15_000);
  shutdown.add("executor", () => executor.stop());
  shutdown.onSignals();
  logger.info({ port: executor.port }, "listening");
} catch (err) {
  logger.fatal({ err }, "executor failed to start");
  process.exit(1);
}
