// Conversions between stored rows and the protobuf messages of the API.
import { create } from "@bufbuild/protobuf";
import {
  type Event,
  EventSchema,
  type Failure,
  FailureSchema,
  type Run,
  RunSchema,
  type RunStatus,
  runStatusNames,
  runStatusValues,
  type Step,
  type StepKind,
  StepSchema,
  type StepStatus,
  stepKindNames,
  stepKindValues,
  stepStatusValues,
  toTimestamp,
} from "@weft/contracts";
import type { EventRow, RunRow, RunStatusText, StepKindText, StepRow, StoredFailure } from "./db.ts";
import type { ClaimRunRow } from "./store/runs.ts";
import type { ClaimStepRow } from "./store/steps.ts";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const bytes = (b: Buffer | null): Uint8Array => (b ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : EMPTY);
const ts = (d: Date | null) => (d ? toTimestamp(d) : undefined);

// The wire enums' lower-case names are the ones Postgres stores (one mapping, in @weft/contracts).
export const runStatusToProto: Record<RunStatusText, RunStatus> = runStatusValues;
export const runStatusFromProto: Partial<Record<RunStatus, RunStatusText>> = withoutUnspecified(runStatusNames);
const stepStatusToProto: Record<RunStatusText, StepStatus> = stepStatusValues;
export const stepKindToProto: Record<StepKindText, StepKind> = stepKindValues;
export const stepKindFromProto: Partial<Record<StepKind, StepKindText>> = withoutUnspecified(stepKindNames);

function withoutUnspecified<E extends number, N extends string>(
  names: Record<E, N>,
): Partial<Record<E, Exclude<N, "unspecified">>> {
  return Object.fromEntries(Object.entries(names).filter(([, name]) => name !== "unspecified")) as Partial<
    Record<E, Exclude<N, "unspecified">>
  >;
}

/** Kinds whose steps executors run from a JetStream task. */
export const TASK_KINDS: readonly StepKindText[] = ["query", "mutation", "action", "on_complete"];

export function failureToStored(f: Failure): StoredFailure {
  const stored: StoredFailure = { name: f.name, message: f.message };
  if (f.stack) stored.stack = f.stack;
  if (f.details.length > 0) stored.details = decoder.decode(f.details);
  return stored;
}

export function failureToProto(f: StoredFailure | null): Failure | undefined {
  if (!f) return undefined;
  return create(FailureSchema, {
    name: f.name,
    message: f.message,
    stack: f.stack ?? "",
    details: f.details ? encoder.encode(f.details) : EMPTY,
  });
}

/** A run as a claim carries it (ClaimRunRow): what replay and the turn's span read. */
export function claimRunToProto(r: ClaimRunRow): Run {
  return create(RunSchema, {
    id: r.id,
    workflowName: r.workflow_name,
    status: runStatusToProto[r.status],
    args: bytes(r.args),
    generation: r.generation,
    shard: r.shard,
    createdAt: ts(r.created_at),
    traceparent: r.traceparent ?? "",
    appVersion: r.app_version ?? "",
    namespace: r.namespace,
  });
}

/** A whole run (the API's answers): the claim's fields and the rest. */
export function runToProto(r: RunRow): Run {
  const run = claimRunToProto(r);
  run.result = bytes(r.result);
  run.error = failureToProto(r.error);
  run.idempotencyKey = r.idempotency_key ?? "";
  run.parentRunId = r.parent_run_id ?? "";
  run.updatedAt = ts(r.updated_at);
  run.completedAt = ts(r.completed_at);
  return run;
}

/** A step as a claim carries it: what replay reads (ClaimStepRow), the rest left at defaults. */
export function claimStepToProto(s: ClaimStepRow): Step {
  return create(StepSchema, {
    id: s.id,
    runId: s.run_id,
    generation: s.generation,
    seq: s.seq,
    name: s.name,
    kind: stepKindToProto[s.kind],
    status: stepStatusToProto[s.status],
    result: bytes(s.result),
    error: failureToProto(s.error),
    completedAt: ts(s.completed_at),
    completionOrder: s.completion_order ? BigInt(s.completion_order) : 0n,
    childRunId: s.child_run_id ?? "",
  });
}

/** A whole step (GetWorkflow, history, ReadJournals): the claim's fields and the rest. */
export function stepToProto(s: StepRow): Step {
  const step = claimStepToProto(s);
  step.args = bytes(s.args);
  step.attempt = s.attempt;
  step.createdAt = ts(s.created_at);
  step.startedAt = ts(s.started_at);
  step.wakeAt = ts(s.wake_at);
  step.eventName = s.event_name ?? "";
  step.childWorkflowName = s.child_workflow_name ?? "";
  step.timeoutAt = ts(s.timeout_at);
  step.traceparent = s.traceparent ?? "";
  return step;
}

export function eventToProto(e: EventRow): Event {
  return create(EventSchema, {
    id: e.id,
    runId: e.run_id,
    name: e.name,
    payload: bytes(e.payload),
    createdAt: ts(e.created_at),
    consumedBySeq: e.consumed_by_seq ?? 0,
  });
}

/** A Uint8Array as a Buffer for pg (bytea), without copying; empty payloads are stored as NULL. */
export function toBytea(b: Uint8Array): Buffer | null {
  return b.length === 0 ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
