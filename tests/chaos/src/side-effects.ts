// The step handlers' own record of every execution (one JSON line each, appended synchronously
// so that a SIGKILL cannot leave half a line): what really ran, where and when, independent of
// what the journal says.
import { appendFileSync, existsSync, readFileSync } from "node:fs";

export interface Execution {
  /** Unique per execution: the step's result carries it, so the journal tells which one it applied. */
  exec: string;
  stepId: string;
  runId: string;
  name: string;
  attempt: number;
  pid: number;
  at: number;
  phase: "start" | "end" | "fail";
}

export function recordExecution(entry: Omit<Execution, "pid" | "at">): void {
  const file = process.env.WEFT_CHAOS_LOG;
  if (!file) return;
  appendFileSync(file, `${JSON.stringify({ ...entry, pid: process.pid, at: Date.now() })}\n`);
}

export function readExecutions(file: string): Execution[] {
  if (!existsSync(file)) return [];
  const out: Execution[] = [];
  const lines = readFileSync(file, "utf8").split("\n");
  // A read can meet a line a process is still appending: only newline-ended lines count.
  lines.pop();
  for (const line of lines) {
    if (line.trim() === "") continue;
    out.push(JSON.parse(line) as Execution);
  }
  return out;
}
