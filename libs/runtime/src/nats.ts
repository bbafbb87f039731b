// NATS connections with the official v3 client, named after the process for server-side insight,
// authenticated as the process's own NATS user (deploy/nats/nats.conf gives each service user only
// the subjects it needs).
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { readSecret } from "./auth.ts";

export type { NatsConnection };

/** Credentials of this process's NATS user; none for a server without authorization. */
export interface NatsAuth {
  user?: string;
  password?: string;
  token?: string;
}

/** NATS credentials from WEFT_NATS_USER + WEFT_NATS_PASSWORD(_FILE), or WEFT_NATS_TOKEN(_FILE). */
export function natsAuthFrom(e: {
  WEFT_NATS_USER?: string;
  WEFT_NATS_PASSWORD?: string;
  WEFT_NATS_PASSWORD_FILE?: string;
  WEFT_NATS_TOKEN?: string;
  WEFT_NATS_TOKEN_FILE?: string;
}): NatsAuth {
  const password = readSecret(e.WEFT_NATS_PASSWORD, e.WEFT_NATS_PASSWORD_FILE, "WEFT_NATS_PASSWORD", 1);
  const token = readSecret(e.WEFT_NATS_TOKEN, e.WEFT_NATS_TOKEN_FILE, "WEFT_NATS_TOKEN", 1);
  return { user: e.WEFT_NATS_USER, password, token };
}

export async function connectNats(
  url: string,
  name: string,
  options: Partial<ConnectionOptions> = {},
  auth: NatsAuth = {},
): Promise<NatsConnection> {
  return connect({
    servers: url.split(","),
    name,
    // Reconnect forever: a restarted nats-server must not take a service down with it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // The client otherwise builds an Error (for its stack) on every request and JetStream
    // publish: measurable CPU on the hot path, for traces nobody reads.
    noAsyncTraces: true,
    ...(auth.user !== undefined ? { user: auth.user, pass: auth.password } : {}),
    ...(auth.token !== undefined ? { token: auth.token } : {}),
    ...options,
  });
}
