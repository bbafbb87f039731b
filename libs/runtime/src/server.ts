// One listener per service that speaks gRPC, gRPC-Web and Connect on one port: HTTP/2 cleartext
// (prior knowledge, as gRPC clients use) and HTTP/1.1 (browsers, curl), told apart by the
// connection preface, with grpc.health.v1 always mounted.
import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { type ConnectRouter, createContextKey, createContextValues, type Interceptor } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@weft/contracts";
import { applyCors, type CorsPolicy } from "./cors.ts";
import { HealthState } from "./health.ts";

export interface ServerOptions {
  host?: string;
  port: number;
  routes: (router: ConnectRouter) => void;
  /** Fully-qualified service names the health service answers for. */
  services: readonly string[];
  interceptors?: Interceptor[];
  readMaxBytes?: number;
  /** Handler for plain HTTP requests that Connect does not route (metrics, console). */
  fallback?: ConnectNodeAdapterOptions["fallback"];
  /** Browsers (HTTP/1.1): which origins may call. No policy, no CORS headers. */
  cors?: CorsPolicy;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: requests in flight per connection (Node's default: unbounded). */
  maxConcurrentStreams?: number;
}

/** The caller's network address (handlers read it with `ctx.values.get(peerAddress)`), for per-client limits. */
export const peerAddress = createContextKey<string>("", { description: "remote address of the caller" });

export interface RunningServer {
  readonly port: number;
  readonly health: HealthState;
  /** Stops accepting connections and waits for open requests to end (destroying them at the deadline). */
  close(deadlineMs?: number): Promise<void>;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n");

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const health = new HealthState(options.services);
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(Health, health.impl());
      options.routes(router);
    },
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    // Services talk over fast local networks with small protobuf messages: gzip costs more CPU
    // than it saves (measured ~1.3% of the journal's CPU under load).
    acceptCompression: [],
    fallback: options.fallback,
    contextValues: (req) => createContextValues().set(peerAddress, req.socket.remoteAddress ?? ""),
  });
  const h2 = http2.createServer(
    options.maxConcurrentStreams === undefined
      ? {}
      : { settings: { maxConcurrentStreams: options.maxConcurrentStreams } },
    handler,
  );
  const cors = options.cors;
  const h1 = http.createServer(
    cors && cors.origins.length > 0
      ? (req, res) => {
          if (!applyCors(cors, req, res)) handler(req, res);
        }
      : handler,
  );
  const sockets = new Set<net.Socket>();
  const h2Sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
  });
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.once("readable", () => {
      const head: Buffer | null = socket.read(H2_PREFACE.length) ?? socket.read();
      if (head === null) return; // closed before sending anything
      socket.unshift(head);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      (isH2 ? h2 : h1).emit("connection", socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(options.port, options.host ?? "0.0.0.0", () => {
      listener.off("error", reject);
      resolve();
    });
  });
  const port = (listener.address() as AddressInfo).port;
  return {
    port,
    health,
    close: (deadlineMs = 5_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, deadlineMs);
        timer.unref();
        listener.close(() => {
          clearTimeout(timer);
          resolve();
        });
        for (const session of h2Sessions) session.close();
        // HTTP/1.1 sockets with a request in flight are closed by the deadline timer.
        h1.closeIdleConnections();
      }),
  };
}
