// Journal process: telemetry first, config from the environment, the journal, signal-driven
// shutdown (telemetry flushed last, so the spans of the shutdown itself are kept).
import { createLogger, Shutdown } from "@weft/runtime";
import { startTelemetry } from "@weft/telemetry/sdk";
import { journalConfigFromEnv } from "./config.ts";
import { startJournal } from "./journal.ts";

const telemetry = startTelemetry("weft-journal");
const config = journalConfigFromEnv();
const logger = createLogger("journal", process.env.WEFT_LOG_LEVEL);
const shutdown = new Shutdown(logger);
shutdown.add("telemetry", () => telemetry.shutdown());
shutdown.onSignals();
const journal = await startJournal(config, { logger });
shutdown.add("journal", () => journal.stop());
logger.info({ port: journal.port, tracing: telemetry.enabled }, "listening");
