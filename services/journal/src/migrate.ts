// One-shot migration entry point, run as the migration owner role: applies the journal's pending
// migrations and, with WEFT_DATABASE_RUNTIME_ROLE, grants the journal's runtime role its
// least privileges (data access only, no DDL) on what the migrations made; then exits.
import { createLogger, parseEnv } from "@weft/runtime";
import { z } from "zod";
import { journalEnv } from "./config.ts";
import { grantRuntimeRole, migrate, openDatabase } from "./db.ts";

const env = parseEnv({
  WEFT_DATABASE_URL: journalEnv.WEFT_DATABASE_URL,
  WEFT_LOG_LEVEL: journalEnv.WEFT_LOG_LEVEL,
  WEFT_DATABASE_RUNTIME_ROLE: z.string().min(1).optional(),
});
const logger = createLogger("journal-migrate", env.WEFT_LOG_LEVEL);
const db = openDatabase(env.WEFT_DATABASE_URL, 1);
try {
  await migrate(db);
  logger.info("migrations applied");
  if (env.WEFT_DATABASE_RUNTIME_ROLE) {
    await grantRuntimeRole(db, env.WEFT_DATABASE_RUNTIME_ROLE);
    logger.info({ role: env.WEFT_DATABASE_RUNTIME_ROLE }, "runtime role granted data access");
  }
} catch (err) {
  logger.error({ err }, "migration failed");
  process.exitCode = 1;
} finally {
  await db.destroy();
}
