// Journal process: config from the environment, the journal, signal-driven shutdown.
import { createLogger, Shutdown } from "@weft/runtime";
import { journalConfigFromEnv } from "./config.ts";
import { startJournal } from "./journal.ts";

const config = journalConfigFromEnv();
const logger = createLogger("journal", process.env.WEFT_LOG_LEVEL);
const shutdown = new Shutdown(logger);
const journal = await startJournal(config, { logger });
shutdown.add("journal", () => journal.stop());
shutdown.onSignals();
logger.info({ port: journal.port }, "listening");
