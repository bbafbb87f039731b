// The Weft stack as real processes on this machine: one journal, then coordinators and executors
// pointed at it. The demo, the benchmarks and the crash tests run the same entry points the
// images run.
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ServiceProcess, spawnService } from "./process.ts";

export type ServiceName = "journal" | "coordinator" | "executor";

export const serviceEntry = (name: ServiceName): string =>
  fileURLToPath(new URL(`../../../services/${name}/src/main.ts`, import.meta.url));

export interface StackOptions {
  /** Environment shared by every process (WEFT_DATABASE_URL, WEFT_NATS_URL, WEFT_PREFIX, ...). */
  env: Record<string, string>;
  /** Path of the app module (workflows and steps). */
  app: string;
  coordinators?: number;
  executors?: number;
  /** Journal port; 0 picks a free one. */
  journalPort?: number;
  /** Per-service environment on top of `env`. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Directory for one log file per process; logs stay in memory only when absent. */
  logDir?: string;
  /**
   * Extra client tokens for the journal's token file (docs/security.md), e.g. a read-only or
   * one-namespace token. Ignored with WEFT_AUTH=off in `env`.
   */
  tokens?: StackToken[];
}

/** One entry of the journal's token file. */
export interface StackToken {
  name: string;
  token: string;
  role?: "client" | "service";
  namespace: string;
  readOnly?: boolean;
}

/** A fresh random token (256 bits, hex). */
export const generateToken = (): string => randomBytes(32).toString("hex");

export interface Stack {
  readonly journalUrl: string;
  /**
   * A client token of every namespace, generated for this stack (what the SDK, CLI and console
   * send); undefined with WEFT_AUTH=off.
   */
  readonly token: string | undefined;
  /** The service token the coordinators and executors send; undefined with WEFT_AUTH=off. */
  readonly serviceToken: string | undefined;
  journal: ServiceProcess;
  readonly coordinators: ServiceProcess[];
  readonly executors: ServiceProcess[];
  /** Starts one more process of a kind (or a replacement after a kill), with extra environment. */
  add(kind: "coordinator" | "executor", env?: Record<string, string>): Promise<ServiceProcess>;
  /** Stops the journal (SIGTERM, or kills it with `signal`) and starts it again on the same port. */
  restartJournal(signal?: NodeJS.Signals): Promise<ServiceProcess>;
  all(): ServiceProcess[];
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const logs: WriteStream[] = [];
  const counters = { journal: 0, coordinator: 0, executor: 0 };
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });

  // Auth is on unless the caller turns it off: a token file (mode 0600, in a private temporary
  // directory) with a client token of every namespace plus the caller's, and a service token.
  const authOff = options.env.WEFT_AUTH === "off";
  const token = authOff ? undefined : generateToken();
  const serviceToken = authOff ? undefined : generateToken();
  const secretsDir = authOff ? undefined : mkdtempSync(join(tmpdir(), "weft-stack-secrets-"));
  const authEnv: Record<string, string> = {};
  if (secretsDir && token && serviceToken) {
    const tokensFile = join(secretsDir, "tokens.json");
    const tokens: StackToken[] = [{ name: "stack-client", token, namespace: "*" }, ...(options.tokens ?? [])];
    writeFileSync(tokensFile, JSON.stringify({ tokens }, null, 2), { mode: 0o600 });
    authEnv.WEFT_AUTH_TOKENS_FILE = tokensFile;
    authEnv.WEFT_SERVICE_TOKEN = serviceToken;
  }
  const removeSecrets = () => {
    if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
  };

  const launch = async (kind: ServiceName, env: Record<string, string>): Promise<ServiceProcess> => {
    const index = counters[kind]++;
    const name = `${kind}-${index}`;
    let onLine: ((line: string) => void) | undefined;
    if (options.logDir) {
      const file = createWriteStream(join(options.logDir, `${name}.log`), { flags: "a" });
      logs.push(file);
      onLine = (line) => file.write(`${line}\n`);
    }
    return spawnService({
      name,
      entry: serviceEntry(kind),
      env: { ...options.env, ...authEnv, WEFT_APP: options.app, ...options.serviceEnv?.[kind], ...env },
      onLine,
    });
  };

  let journal: ServiceProcess;
  try {
    journal = await launch("journal", { WEFT_JOURNAL_PORT: String(options.journalPort ?? 0) });
  } catch (err) {
    removeSecrets();
    throw err;
  }
  const journalPort = journal.port;
  const journalUrl = `http://127.0.0.1:${journalPort}`;
  const workerEnv = (kind: "coordinator" | "executor") => ({
    WEFT_JOURNAL_URL: journalUrl,
    [kind === "coordinator" ? "WEFT_COORDINATOR_PORT" : "WEFT_EXECUTOR_PORT"]: "0",
  });
  const coordinators: ServiceProcess[] = [];
  const executors: ServiceProcess[] = [];
  const add = async (kind: "coordinator" | "executor", env: Record<string, string> = {}) => {
    const proc = await launch(kind, { ...workerEnv(kind), ...env });
    (kind === "coordinator" ? coordinators : executors).push(proc);
    return proc;
  };
  try {
    await Promise.all([
      ...Array.from({ length: options.coordinators ?? 1 }, () => add("coordinator")),
      ...Array.from({ length: options.executors ?? 1 }, () => add("executor")),
    ]);
  } catch (err) {
    for (const proc of [journal, ...coordinators, ...executors]) proc.kill("SIGKILL");
    removeSecrets();
    throw err;
  }

  const stack: Stack = {
    journalUrl,
    token,
    serviceToken,
    get journal() {
      return journal;
    },
    set journal(value) {
      journal = value;
    },
    coordinators,
    executors,
    add,
    restartJournal: async (signal) => {
      if (signal) {
        journal.kill(signal);
        await journal.exited;
      } else {
        await journal.stop();
      }
      journal = await launch("journal", { WEFT_JOURNAL_PORT: String(journalPort) });
      return journal;
    },
    all: () => [journal, ...coordinators, ...executors],
    stop: async () => {
      // Workers first so that they flush into a live journal, the journal last.
      await Promise.all([...executors, ...coordinators].map((p) => p.stop()));
      await journal.stop();
      for (const file of logs) file.end();
      removeSecrets();
    },
  };
  return stack;
}
