// Runs a service's real entry point (the same main.ts the images run) as a child process, for
// crash tests and end-to-end tests. A service announces readiness with the JSON log line
// {"msg":"listening","port":N}; stdout/stderr lines are kept for diagnosis.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly logs: string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then wait for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  name: string;
  /** Absolute path of the service's main.ts. */
  entry: string;
  env: Record<string, string>;
  readyTimeoutMs?: number;
  args?: string[];
  /** Called with every output line (e.g. to write a log file). */
  onLine?: (line: string) => void;
}

export async function spawnService(options: SpawnOptions): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, [options.entry, ...(options.args ?? [])], {
    env: { ...process.env, WEFT_LOG_LEVEL: "info", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a half-started service behind.
      child.kill("SIGKILL");
      reject(
        new Error(
          `${options.name} not ready after ${options.readyTimeoutMs ?? 20_000} ms:\n${logs.slice(-30).join("\n")}`,
        ),
      );
    }, options.readyTimeoutMs ?? 20_000);
    const onLine = (line: string) => {
      options.onLine?.(line);
      logs.push(line);
      if (logs.length > 5000) logs.splice(0, 1000);
      if (!line.startsWith("{")) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === "listening" && typeof entry.port === "number") {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a JSON log line
      }
    };
    if (child.stdout) createInterface({ input: child.stdout }).on("line", onLine);
    if (child.stderr) createInterface({ input: child.stderr }).on("line", onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited (${code}) before it was ready:\n${logs.slice(-30).join("\n")}`));
    });
  });
  return {
    name: options.name,
    pid: child.pid ?? -1,
    port,
    logs,
    exited,
    kill: (signal = "SIGKILL") => {
      child.kill(signal);
    },
    stop: async (graceMs = 15_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
