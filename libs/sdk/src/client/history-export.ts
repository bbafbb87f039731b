// A run's history (from GetHistory) in the stable export format weft.history.v1 (see
// @weft/sdk/workflow's history.ts): what `weft history --json` writes and `weft replay` reads.
import type { Failure } from "../errors.ts";
import { HISTORY_FORMAT, type HistoryExport, type HistoryTimer } from "../workflow/history.ts";
import type { History } from "./client.ts";

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);
const failure = (f: Failure | undefined): Failure | null => (f ? { ...f } : null);

export function toHistoryExport(history: History, exportedAt = new Date()): HistoryExport {
  const { run } = history;
  const steps = [...history.steps].sort((a, b) => a.generation - b.generation || a.seq - b.seq);
  const timers: HistoryTimer[] = [];
  for (const s of steps) {
    if (s.generation !== run.generation) continue;
    if (s.kind === "sleep" && s.wakeAt)
      timers.push({
        seq: s.seq,
        kind: "sleep",
        dueAt: s.wakeAt.toISOString(),
        status: s.status as HistoryTimer["status"],
      });
    if (s.kind === "event" && s.timeoutAt) {
      timers.push({
        seq: s.seq,
        kind: "event_timeout",
        dueAt: s.timeoutAt.toISOString(),
        status: s.status as HistoryTimer["status"],
      });
    }
  }
  return {
    format: HISTORY_FORMAT,
    exportedAt: exportedAt.toISOString(),
    run: {
      id: run.id,
      workflowName: run.workflowName,
      status: run.status as HistoryExport["run"]["status"],
      args: run.args ?? null,
      result: run.result ?? null,
      error: failure(run.error),
      generation: run.generation,
      shard: run.shard,
      appVersion: run.appVersion ?? null,
      idempotencyKey: run.idempotencyKey ?? null,
      parentRunId: run.parentRunId ?? null,
      createdAt: run.createdAt.toISOString(),
      updatedAt: iso(run.updatedAt),
      completedAt: iso(run.completedAt),
    },
    steps: steps.map((s) => ({
      id: s.id,
      generation: s.generation,
      seq: s.seq,
      name: s.name,
      kind: s.kind,
      status: s.status as HistoryExport["steps"][number]["status"],
      args: s.args ?? null,
      result: s.result ?? null,
      error: failure(s.error),
      attempt: s.attempt,
      completionOrder: s.completionOrder.toString(),
      createdAt: iso(s.createdAt),
      startedAt: iso(s.startedAt),
      completedAt: iso(s.completedAt),
      wakeAt: iso(s.wakeAt),
      timeoutAt: iso(s.timeoutAt),
      eventName: s.eventName ?? null,
      childWorkflowName: s.childWorkflowName ?? null,
      childRunId: s.childRunId ?? null,
    })),
    events: history.events.map((e) => ({
      id: e.id,
      name: e.name,
      payload: e.payload ?? null,
      createdAt: iso(e.createdAt),
      consumedBySeq: e.consumedBySeq ?? null,
    })),
    timers,
  };
}
