// One isolated Weft environment per test file: its own database and JetStream prefix, as the
// environment variables the services read.
import { createTestDatabase } from "./database.ts";
import { createTestPrefix } from "./jetstream.ts";

export interface TestEnvironment {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly prefix: string;
  /** WEFT_DATABASE_URL, WEFT_NATS_URL, WEFT_PREFIX for service processes. */
  readonly env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function createTestEnvironment(testName: string): Promise<TestEnvironment> {
  const db = await createTestDatabase(testName);
  const nats = await createTestPrefix(testName);
  return {
    databaseUrl: db.url,
    natsUrl: nats.natsUrl,
    prefix: nats.prefix,
    env: { WEFT_DATABASE_URL: db.url, WEFT_NATS_URL: nats.natsUrl, WEFT_PREFIX: nats.prefix },
    cleanup: async () => {
      await Promise.allSettled([nats.cleanup(), db.drop()]);
    },
  };
}
