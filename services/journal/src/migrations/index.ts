// The journal's migrations, in order; a static provider so that no directory is read at run time.
import type { Migration, MigrationProvider } from "kysely/migration";
import * as m001 from "./001-initial-schema.ts";
import * as m010 from "./010-versions-and-patches.ts";
import * as m020 from "./020-retention-index.ts";
import * as m030 from "./030-namespaces.ts";
import * as m070 from "./070-incremental-claims.ts";
import * as m080 from "./080-steps-without-run-foreign-key.ts";
import * as m090 from "./090-run-listing.ts";

const migrations: Record<string, Migration> = {
  "001-initial-schema": m001,
  "010-versions-and-patches": m010,
  "020-retention-index": m020,
  "030-namespaces": m030,
  "070-incremental-claims": m070,
  "080-steps-without-run-foreign-key": m080,
  "090-run-listing": m090,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
