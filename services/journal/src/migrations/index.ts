// The journal's migrations, in order; a static provider so that no directory is read at run time.
import type { Migration, MigrationProvider } from "kysely/migration";
import * as m001 from "./001-initial-schema.ts";

<<<<<<< HEAD

import * as m020 from "./020-retention-index.ts";

=======

import * as m010 from "./010-versions-and-patches.ts";

>>>>>>> 2389312 (journal: app versions (newest live coordinator version for new runs, pinned starts, claim filter, waiting-run count), PATCH markers, ResetWorkflow and RetryFailed)

import * as m070 from "./070-incremental-claims.ts";

const migrations: Record<string, Migration> = {
  "001-initial-schema": m001,
<<<<<<< HEAD
  "020-retention-index": m020,
=======
  "010-versions-and-patches": m010,
>>>>>>> 2389312 (journal: app versions (newest live coordinator version for new runs, pinned starts, claim filter, waiting-run count), PATCH markers, ResetWorkflow and RetryFailed)
  "070-incremental-claims": m070,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
