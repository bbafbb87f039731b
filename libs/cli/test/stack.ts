// One isolated Weft stack per test file (own database and JetStream prefix) running the pipeline
// example app, and a way to run the CLI (and other programs) against it as child processes.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Stack, startStack } from "@weft/stack";
import { createTestEnvironment, type TestEnvironment } from "@weft/testkit";

export const pipelineApp = fileURLToPath(new URL("../../../examples/pipeline/src/app.ts", import.meta.url));
export const cliMain = fileURLToPath(new URL("../src/main.ts", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** The client token of the stack started last (the CLI gets it as WEFT_TOKEN). */
let currentToken = "";

export interface TestStack {
  stack: Stack;
  env: TestEnvironment;
  stop(): Promise<void>;
}

export async function startTestStack(name: string): Promise<TestStack> {
  const env = await createTestEnvironment(name);
  try {
    const stack = await startStack({
      env: { ...env.env, WEFT_LOG_LEVEL: "info", WEFT_SAFETY_POLL_MS: "500" },
      app: pipelineApp,
    });
    currentToken = stack.token ?? "";
    return {
      stack,
      env,
      stop: async () => {
        try {
          await stack.stop();
        } finally {
          await env.cleanup();
        }
      },
    };
  } catch (err) {
    await env.cleanup();
    throw err;
  }
}

export interface Exited {
  code: number;
  stdout: string;
  stderr: string;
}

export function exec(
  file: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") {
          reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Runs `node libs/cli/src/main.ts ...args` against a journal. */
export const weft = (url: string, args: string[], input?: string) =>
  exec(process.execPath, [cliMain, ...args], {
    env: { WEFT_URL: url, WEFT_TOKEN: currentToken },
    ...(input === undefined ? {} : { input }),
  });
