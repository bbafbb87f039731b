// Coordinator process: config, telemetry, app module, coordinator, ordered shutdown.
import { createLogger, Shutdown } from "@weft/runtime";
import { loadApp } from "@weft/sdk";
import { startTelemetry } from "@weft/telemetry/sdk";
import { parseCoordinatorConfig } from "./config.ts";
import { startCoordinator } from "./coordinator.ts";

const config = parseCoordinatorConfig();
const telemetry = startTelemetry("weft-coordinator");
const logger = createLogger("coordinator", config.WEFT_LOG_LEVEL);
const shutdown = new Shutdown(logger);
shutdown.onSignals();
shutdown.add("telemetry", () => telemetry.shutdown());
const app = await loadApp(config.WEFT_APP);
const coordinator = await startCoordinator({ config, app, logger });
shutdown.add("coordinator", () => coordinator.stop());
logger.info({ port: coordinator.port, id: config.WEFT_COORDINATOR_ID }, "listening");
