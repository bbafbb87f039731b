// A private nats-server process per test (its own port, its own JetStream store in a temporary
// directory), for tests that need a server configured their way (authorization, restarts).
// Never the shared server on 4222. A missing binary is an error that says so, never a skip.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NATS_SERVER_BIN = process.env.WEFT_NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export interface PrivateNatsServer {
  readonly url: string;
  readonly port: number;
  /** The server's directory (config, JetStream store). */
  readonly dir: string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts nats-server with JetStream on a free loopback port. `config` is extra configuration text
 * appended to the generated one; `files` are written beside it first (e.g. an included auth.conf);
 * `env` is the server's environment (for `$VARIABLE` references in the configuration); `port`
 * reuses a port (a restart: clients reconnect to the same URL).
 */
export async function startNatsServer(
  options: { config?: string; files?: Record<string, string>; env?: Record<string, string>; port?: number } = {},
): Promise<PrivateNatsServer> {
  if (!existsSync(NATS_SERVER_BIN)) {
    throw new Error(`testkit: ${NATS_SERVER_BIN} not found (apt-get install nats-server, or set WEFT_NATS_SERVER_BIN)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "weft-nats-"));
  const port = options.port ?? (await freePort());
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), text);
  const conf = join(dir, "nats.conf");
  writeFileSync(
    conf,
    [
      "host: 127.0.0.1",
      `port: ${port}`,
      `jetstream { store_dir: "${join(dir, "jetstream")}" }`,
      options.config ?? "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(NATS_SERVER_BIN, ["-c", conf], {
    env: { PATH: process.env.PATH ?? "", ...options.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start in 10 s:\n${log}`)), 10_000);
      child.stderr?.on("data", (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes("Server is ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${log}`));
      });
    });
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
