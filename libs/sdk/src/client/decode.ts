// Decoding of the wire messages (protobuf with JSON payload bytes) into the plain objects the client
// returns: JSON payloads parsed, enums as lower-case names, Timestamps as Dates.
import {
  decodePayload,
  type Event,
  fromTimestamp,
  type Failure as ProtoFailure,
  type Run,
  type RunStatus,
  type RunStatusName,
  runStatusNames,
  runStatusValues,
  type Step,
  type StepKindName,
  type StepStatusName,
  stepKindNames,
  stepStatusNames,
} from "@weft/contracts";
import type { Failure } from "../errors.ts";

export type { RunStatusName, StepKindName, StepStatusName } from "@weft/contracts";

export interface RunSnapshot<R = unknown> {
  id: string;
  workflowName: string;
  status: RunStatusName;
  args: unknown;
  /** The decoded result when completed, else null. */
  result: R | null;
  /** Set when failed or canceled. */
  error: Failure | undefined;
  idempotencyKey: string | undefined;
  parentRunId: string | undefined;
  generation: number;
  shard: number;
  createdAt: Date;
  updatedAt: Date | undefined;
  completedAt: Date | undefined;
  traceparent: string | undefined;
  appVersion: string | undefined;
}

export interface StepSnapshot {
  id: string;
  runId: string;
  generation: number;
  seq: number;
  name: string;
  kind: StepKindName;
  status: StepStatusName;
  args: unknown;
  result: unknown;
  error: Failure | undefined;
  attempt: number;
  createdAt: Date | undefined;
  startedAt: Date | undefined;
  completedAt: Date | undefined;
  /** Order in which outcomes were recorded; 0n while running. */
  completionOrder: bigint;
  wakeAt: Date | undefined;
  eventName: string | undefined;
  childWorkflowName: string | undefined;
  childRunId: string | undefined;
  timeoutAt: Date | undefined;
}

export interface EventSnapshot {
  id: string;
  runId: string;
  name: string;
  payload: unknown;
  createdAt: Date | undefined;
  /** Seq of the EVENT step that consumed it; undefined while unconsumed. */
  consumedBySeq: number | undefined;
}

const RUN_STATUS = runStatusNames;
const STEP_STATUS = stepStatusNames;
const STEP_KIND = stepKindNames;

export function runStatusName(status: RunStatus): RunStatusName {
  return RUN_STATUS[status] ?? "unspecified";
}

export function runStatusFromName(name: RunStatusName): RunStatus {
  const value = runStatusValues[name];
  if (value !== undefined) return value;
  throw new RangeError(`unknown run status "${name}"; expected running, completed, failed or canceled`);
}

export function isFinalStatus(status: RunStatusName): boolean {
  return status === "completed" || status === "failed" || status === "canceled";
}

const orUndefined = (s: string): string | undefined => (s === "" ? undefined : s);

export function decodeFailure(f: ProtoFailure | undefined): Failure | undefined {
  if (!f) return undefined;
  const out: Failure = { name: f.name, message: f.message };
  if (f.stack) out.stack = f.stack;
  if (f.details.length > 0) out.details = decodePayload(f.details);
  return out;
}

export function decodeRun<R = unknown>(run: Run): RunSnapshot<R> {
  const status = runStatusName(run.status);
  return {
    id: run.id,
    workflowName: run.workflowName,
    status,
    args: decodePayload(run.args),
    result: status === "completed" ? decodePayload<R>(run.result) : null,
    error: decodeFailure(run.error),
    idempotencyKey: orUndefined(run.idempotencyKey),
    parentRunId: orUndefined(run.parentRunId),
    generation: run.generation,
    shard: run.shard,
    createdAt: fromTimestamp(run.createdAt) ?? new Date(0),
    updatedAt: fromTimestamp(run.updatedAt),
    completedAt: fromTimestamp(run.completedAt),
    traceparent: orUndefined(run.traceparent),
    appVersion: orUndefined(run.appVersion),
  };
}

export function decodeStep(step: Step): StepSnapshot {
  return {
    id: step.id,
    runId: step.runId,
    generation: step.generation,
    seq: step.seq,
    name: step.name,
    kind: STEP_KIND[step.kind] ?? "unspecified",
    status: STEP_STATUS[step.status] ?? "unspecified",
    args: decodePayload(step.args),
    result: decodePayload(step.result),
    error: decodeFailure(step.error),
    attempt: step.attempt,
    createdAt: fromTimestamp(step.createdAt),
    startedAt: fromTimestamp(step.startedAt),
    completedAt: fromTimestamp(step.completedAt),
    completionOrder: step.completionOrder,
    wakeAt: fromTimestamp(step.wakeAt),
    eventName: orUndefined(step.eventName),
    childWorkflowName: orUndefined(step.childWorkflowName),
    childRunId: orUndefined(step.childRunId),
    timeoutAt: fromTimestamp(step.timeoutAt),
  };
}

export function decodeEvent(event: Event): EventSnapshot {
  return {
    id: event.id,
    runId: event.runId,
    name: event.name,
    payload: decodePayload(event.payload),
    createdAt: fromTimestamp(event.createdAt),
    consumedBySeq: event.consumedBySeq === 0 ? undefined : event.consumedBySeq,
  };
}
