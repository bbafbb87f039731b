// NATS connections with the official v3 client, named after the process for server-side insight.
import { connect, type NatsConnection } from "@nats-io/transport-node";

export type { NatsConnection };

export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url.split(","),
    name,
    // Reconnect forever: a restarted nats-server must not take a service down with it.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
  });
}
