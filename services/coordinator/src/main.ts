// Coordinator process: config, app module, coordinator, ordered shutdown.
import { createLogger, Shutdown } from "@weft/runtime";
import { loadApp } from "@weft/sdk";
import { parseCoordinatorConfig } from "./config.ts";
import { startCoordinator } from "./coordinator.ts";

const config = parseCoordinatorConfig();
const logger = createLogger("coordinator", config.WEFT_LOG_LEVEL);
const shutdown = new Shutdown(logger);
shutdown.onSignals();
const app = await loadApp(config.WEFT_APP);
const coordinator = await startCoordinator({ config, app, logger });
shutdown.add("coordinator", () => coordinator.stop());
logger.info({ port: coordinator.port, id: config.WEFT_COORDINATOR_ID }, "listening");
