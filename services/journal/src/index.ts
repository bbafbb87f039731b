// Public surface of the journal package: start it in-process, or read its configuration.
export { type JournalConfig, journalConfigFromEnv, journalEnv } from "./config.ts";
export { grantRuntimeRole, migrate, openDatabase, requireMigrated } from "./db.ts";
export { type JournalOptions, type RunningJournal, startJournal } from "./journal.ts";
export { createJournalMetrics, type JournalMetrics } from "./metrics.ts";
export { Retention, type RetentionSettings } from "./retention.ts";
export {
  countRunsWaitingForVersion,
  currentVersions,
  runsWaitingForVersion,
  type VersionWait,
} from "./store/versions.ts";
