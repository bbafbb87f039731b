// Private infrastructure for the chaos runs: a Postgres cluster and nats-server processes of our
// own (temp dirs, free ports), so that killing and restarting them never touches the shared
// Postgres on 5432 or the shared NATS on 4222. Everything is removed by `destroy()`.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Postgres

function postgresBin(): string {
  if (process.env.WEFT_PG_BIN) return process.env.WEFT_PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) throw new Error("no Postgres binaries: set WEFT_PG_BIN to the directory of initdb/pg_ctl");
  return join(root, versions[0] as string, "bin");
}

/** initdb refuses to run as root: then run the Postgres tools as the `postgres` user. */
function asPostgresUser(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { prefix: ["runuser", "-u", "postgres", "--"], uid, gid };
}

export interface PrivatePostgres {
  readonly port: number;
  readonly dir: string;
  /** postgres://...@127.0.0.1:port/<database> */
  url(database?: string): string;
  /** `pg_ctl stop -m immediate` (a crash: no checkpoint), as in a power cut of the database. */
  crash(): void;
  start(): void;
  /** Crash, then start again (crash recovery replays the WAL). */
  restart(): void;
  destroy(): void;
}

export async function startPostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin();
  const user = asPostgresUser();
  const dir = mkdtempSync(join(tmpdir(), "weft-chaos-pg-"));
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
  const data = join(dir, "data");
  const port = await freePort();
  const run = (tool: string, args: string[]) => {
    const [cmd, ...rest] = [...user.prefix, join(bin, tool)];
    return execFileSync(cmd as string, [...rest, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  };
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
  // Durability as in production: fsync and synchronous_commit on.
  writeFileSync(
    join(data, "postgresql.auto.conf"),
    [
      `port = ${port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${dir}'`,
      "fsync = on",
      "synchronous_commit = on",
      "full_page_writes = on",
      "max_connections = 300",
      "shared_buffers = '128MB'",
      "",
    ].join("\n"),
  );
  if (user.uid !== undefined && user.gid !== undefined)
    chownSync(join(data, "postgresql.auto.conf"), user.uid, user.gid);
  const log = join(dir, "postgres.log");
  const start = () => {
    run("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "start"]);
  };
  const crash = () => {
    run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  };
  start();
  return {
    port,
    dir,
    url: (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`,
    crash,
    start,
    restart: () => {
      crash();
      start();
    },
    destroy: () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// nats-server

const natsBinary = () => process.env.WEFT_NATS_SERVER_BIN ?? "nats-server";

/** `sync_interval` (fsync on every write before the ack) exists from nats-server 2.10 on. */
export function natsSupportsSyncAlways(): boolean {
  const version = natsServerVersion();
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 2 || (major === 2 && minor >= 10);
}

export function natsServerVersion(): string {
  const out = execFileSync(natsBinary(), ["--version"]).toString();
  return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1] ?? "0.0.0";
}

export interface NatsNode {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  readonly pid: number;
  readonly running: boolean;
  /** SIGKILL (no flush, no goodbye) and wait for the exit. */
  kill(): Promise<void>;
  start(): Promise<void>;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  /** All client URLs, comma-separated (what WEFT_NATS_URL takes). */
  readonly url: string;
  readonly syncAlways: boolean;
  destroy(): Promise<void>;
}

/** One nats-server (size 1) or a JetStream cluster of `size` servers with routes on loopback. */
export async function startNats(size = 1): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), "weft-chaos-nats-"));
  const syncAlways = natsSupportsSyncAlways();
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const nodes: NatsNode[] = ports.map((port, i) => {
    const name = `chaos-nats-${i}`;
    const storeDir = join(dir, name);
    mkdirSync(storeDir, { recursive: true });
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, natsConfig({ name, port, storeDir, syncAlways, routePort: routePorts[i], routePorts }, size));
    let child: ChildProcess | undefined;
    let exited: Promise<void> = Promise.resolve();
    const node: NatsNode = {
      name,
      port,
      url: `nats://127.0.0.1:${port}`,
      storeDir,
      get pid() {
        return child?.pid ?? -1;
      },
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      kill: async () => {
        if (!node.running) return;
        child?.kill("SIGKILL");
        await exited;
      },
      start: async () => {
        const proc = spawn(natsBinary(), ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
        child = proc;
        let stderr = "";
        proc.stderr?.on("data", (chunk: Buffer) => {
          stderr = (stderr + chunk.toString()).slice(-4000);
        });
        exited = new Promise((resolve) => proc.once("exit", () => resolve()));
        await waitForPort(port, 15_000, () => (proc.exitCode !== null ? stderr : undefined));
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.start()));
  await waitForJetStream(nodes.map((n) => n.url));
  return {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    syncAlways,
    destroy: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function natsConfig(
  o: { name: string; port: number; storeDir: string; syncAlways: boolean; routePort?: number; routePorts: number[] },
  size: number,
): string {
  const lines = [
    `server_name: ${o.name}`,
    `listen: 127.0.0.1:${o.port}`,
    "jetstream {",
    `  store_dir: "${o.storeDir}"`,
    // The same setting as deploy/nats/nats.conf (nats-server >= 2.10).
    ...(o.syncAlways ? ["  sync_interval: always"] : []),
    "}",
  ];
  if (size > 1) {
    lines.push(
      "cluster {",
      "  name: weft-chaos",
      `  listen: 127.0.0.1:${o.routePort}`,
      `  routes: [${o.routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(", ")}]`,
      "}",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Until JetStream answers (a cluster first elects its meta leader). */
export async function waitForJetStream(servers: string[], timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers, maxReconnectAttempts: -1 });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await jetstreamManager(nc, { timeout: 2000 });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
}

async function waitForPort(port: number, timeoutMs: number, failed: () => string | undefined): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = failed();
    if (why !== undefined) throw new Error(`nats-server on ${port} exited: ${why}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nats-server on ${port} not listening after ${timeoutMs} ms`);
}
