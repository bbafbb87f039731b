// A private subject prefix per test file; cleanup deletes the prefix's stream (and with it its
// consumers). An unreachable NATS is an error that says so, never a skip.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { taskStream } from "@weft/runtime";
import { isolatedName } from "./names.ts";

export const testNatsUrl = () => process.env.WEFT_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export interface TestPrefix {
  readonly prefix: string;
  readonly natsUrl: string;
  cleanup(): Promise<void>;
}

export async function createTestPrefix(testName: string): Promise<TestPrefix> {
  const prefix = isolatedName(testName, 20);
  const natsUrl = testNatsUrl();
  const nc = await connectOrExplain(natsUrl);
  await nc.close();
  return {
    prefix,
    natsUrl,
    cleanup: async () => {
      const conn = await connectOrExplain(natsUrl);
      try {
        const jsm = await jetstreamManager(conn);
        await jsm.streams.delete(taskStream(prefix)).catch((err: Error) => {
          if (!/not found/i.test(err.message)) throw err;
        });
      } finally {
        await conn.close();
      }
    },
  };
}

async function connectOrExplain(url: string) {
  try {
    return await connect({ servers: url, maxReconnectAttempts: 0 });
  } catch (err) {
    throw new Error(
      `testkit: cannot reach NATS at ${url} (${(err as Error).message}); start nats-server with JetStream ` +
        "(see README) or set WEFT_TEST_NATS_URL",
    );
  }
}
