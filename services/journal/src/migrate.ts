// One-shot migration entry point: applies the journal's pending migrations and exits.
import { createLogger } from "@weft/runtime";
import { journalConfigFromEnv } from "./config.ts";
import { migrate, openDatabase } from "./db.ts";

const logger = createLogger("journal-migrate", process.env.WEFT_LOG_LEVEL);
const config = journalConfigFromEnv();
const db = openDatabase(config.databaseUrl, 1);
try {
  await migrate(db);
  logger.info("migrations applied");
} catch (err) {
  logger.error({ err }, "migration failed");
  process.exitCode = 1;
} finally {
  await db.destroy();
}
