// NATS connections with the official v3 client, named after the process for server-side insight.
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";

export type { NatsConnection };

export async function connectNats(
  url: string,
  name: string,
  options: Partial<ConnectionOptions> = {},
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
    ...options,
  });
}
