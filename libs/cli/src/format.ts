// Human output (aligned blocks and tables) and JSON output (bigints as strings, dates as ISO).
import type { Diagnosis, EventSnapshot, History, RunSnapshot, StepSnapshot, WatchedRun } from "@weft/sdk/client";

export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), indent);
}

/** A payload for people: strings as they are, everything else as compact JSON. */
export function showPayload(value: unknown): string {
  if (value === undefined || value === null) return "null";
  return typeof value === "string" ? value : toJson(value);
}

export function duration(from: Date | undefined, to: Date | undefined): string {
  if (!from || !to) return "";
  const ms = to.getTime() - from.getTime();
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return m < 60 ? `${m}m${Math.round((ms % 60_000) / 1_000)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

const iso = (d: Date | undefined) => (d ? d.toISOString() : "");

function block(rows: [string, string | undefined][]): string {
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== "");
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

export function formatRun(run: RunSnapshot): string {
  return block([
    ["run", run.id],
    ["workflow", run.workflowName],
    ["status", run.status],
    ["created", iso(run.createdAt)],
    ["completed", run.completedAt ? `${iso(run.completedAt)} (${duration(run.createdAt, run.completedAt)})` : ""],
    ["key", run.idempotencyKey],
    ["parent", run.parentRunId],
    ["app", run.appVersion],
    ["args", toJson(run.args)],
    ["result", run.status === "completed" ? toJson(run.result) : undefined],
    ["error", run.error ? `${run.error.name}: ${run.error.message}` : undefined],
  ]);
}

export function formatRunTable(runs: RunSnapshot[]): string {
  return table(
    ["RUN", "WORKFLOW", "STATUS", "CREATED", "TOOK"],
    runs.map((r) => [r.id, r.workflowName, r.status, iso(r.createdAt), duration(r.createdAt, r.completedAt)]),
  );
}

export function formatSteps(steps: StepSnapshot[]): string {
  return table(
    ["SEQ", "KIND", "NAME", "STATUS", "ATTEMPT", "TOOK", "OUTCOME"],
    steps.map((s) => [
      String(s.seq),
      s.kind,
      s.name,
      s.status,
      String(s.attempt),
      duration(s.startedAt ?? s.createdAt, s.completedAt),
      s.error ? `${s.error.name}: ${s.error.message}` : s.status === "completed" ? showPayload(s.result) : "",
    ]),
  );
}

export function formatEvents(events: EventSnapshot[]): string {
  return table(
    ["EVENT", "NAME", "CREATED", "CONSUMED BY", "PAYLOAD"],
    events.map((e) => [
      e.id,
      e.name,
      iso(e.createdAt),
      e.consumedBySeq === undefined ? "-" : `step ${e.consumedBySeq}`,
      toJson(e.payload),
    ]),
  );
}

export function formatHistory(h: History): string {
  const parts = [formatRun(h.run), "", h.steps.length ? formatSteps(h.steps) : "(no steps)"];
  if (h.events.length) parts.push("", formatEvents(h.events));
  return parts.join("\n");
}

export const stepCounts = (steps: StepSnapshot[] | undefined) => ({
  done: steps?.filter((s) => s.status !== "running").length ?? 0,
  total: steps?.length ?? 0,
});

/** One line per watched change: time, status, steps done. */
export function formatWatchLine(run: WatchedRun, at: Date): string {
  const { done, total } = stepCounts(run.steps);
  const steps = run.steps ? `  ${done}/${total} steps` : "";
  const end = run.error ? `  ${run.error.name}: ${run.error.message}` : "";
  const result = run.status === "completed" ? `  result ${showPayload(run.result)}` : "";
  return `${at.toISOString().slice(11, 23)}  ${run.status.padEnd(9)}${steps}${result}${end}`;
}

export function formatStepLine(s: StepSnapshot): string {
  const outcome = s.error ? `  ${s.error.name}: ${s.error.message}` : "";
  return `    #${s.seq} ${s.kind} ${s.name} ${s.status}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ""}${outcome}`;
}

/** "1234" ms → "1.2s"; 0 → "-". */
export function ageMs(ms: number): string {
  if (ms <= 0) return "-";
  return duration(new Date(0), new Date(ms));
}

export function formatDiagnosis(d: Diagnosis): string {
  const out = [
    `ready runs ${d.readyRuns}, oldest ready ${ageMs(d.oldestReadyAgeMs)}`,
    "",
    table(
      ["SHARD", "READY", "OLDEST READY", "LEASED", "TASKS RUNNING", "PENDING", "UNACKED", "OLDEST UNACKED", "EXECUTOR"],
      d.shards.map((s) => [
        String(s.shard),
        String(s.readyRuns),
        ageMs(s.oldestReadyAgeMs),
        String(s.leasedRuns),
        String(s.runningTasks),
        String(s.tasksPending),
        String(s.tasksAckPending),
        ageMs(s.oldestUnackedAgeMs),
        s.executor ?? "(none)",
      ]),
    ),
    "",
    `ready runs unclaimed for over ${ageMs(d.unclaimedThresholdMs)}: ${d.unclaimedRunsTotal}`,
  ];
  if (d.unclaimedRuns.length > 0) {
    out.push(
      table(
        ["RUN", "WORKFLOW", "SHARD", "READY FOR", "APP"],
        d.unclaimedRuns.map((r) => [r.runId, r.workflowName, String(r.shard), ageMs(r.readyAgeMs), r.appVersion ?? ""]),
      ),
    );
  }
  out.push("", `steps in progress past their timeout: ${d.overdueStepsTotal}`);
  if (d.overdueSteps.length > 0) {
    out.push(
      table(
        ["RUN", "SEQ", "STEP", "KIND", "OVERDUE", "ATTEMPT", "DISPATCH"],
        d.overdueSteps.map((s) => [
          s.runId,
          String(s.seq),
          s.name,
          s.kind,
          ageMs(s.overdueMs),
          String(s.attempt),
          String(s.dispatch),
        ]),
      ),
    );
  }
  out.push("", d.versions.available ? "ready runs by app version:" : d.versions.note);
  if (d.versions.waiting.length > 0) {
    out.push(
      table(
        ["APP VERSION", "READY", "OLDEST READY", "CARRIED"],
        d.versions.waiting.map((v) => [
          v.appVersion || "(none)",
          String(v.readyRuns),
          ageMs(v.oldestReadyAgeMs),
          v.carried ? "yes" : "NO",
        ]),
      ),
    );
  }
  for (const w of d.warnings) out.push(`warning: ${w}`);
  return out.join("\n");
}
