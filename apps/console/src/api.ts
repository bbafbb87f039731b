// The one way the console talks to Weft: WorkflowService (and OperatorService for the diagnose
// page) on the journal over Connect-Web.

import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { OperatorService, RunStatus, StepKind, StepStatus, WorkflowService } from "@weft/contracts";
import type { ConsoleConfig } from "./config.ts";

export type WorkflowClient = Client<typeof WorkflowService>;
export type OperatorClient = Client<typeof OperatorService>;
export type { DiagnoseResponse, Event, Failure, Run, Step } from "@weft/contracts";
export { RunStatus, StepKind, StepStatus };

function transportOf(config: ConsoleConfig) {
  const token = config.token;
  const options = {
    baseUrl: config.journalUrl,
    useBinaryFormat: true,
    interceptors: token
      ? [
          (next: Parameters<Interceptor>[0]) => (req: Parameters<ReturnType<Interceptor>>[0]) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ]
      : [],
  };
  return config.protocol === "grpc-web" ? createGrpcWebTransport(options) : createConnectTransport(options);
}

export function createWorkflowClient(config: ConsoleConfig): WorkflowClient {
  return createClient(WorkflowService, transportOf(config));
}

export function createOperatorClient(config: ConsoleConfig): OperatorClient {
  return createClient(OperatorService, transportOf(config));
}

export function ms(value: Timestamp | undefined): number | undefined {
  if (!value) return undefined;
  const v = Number(value.seconds) * 1000 + Math.floor(value.nanos / 1_000_000);
  return v > 0 ? v : undefined;
}

export function toTimestamp(msValue: number): Timestamp {
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(Math.floor(msValue / 1000)),
    nanos: (msValue % 1000) * 1_000_000,
  } as Timestamp;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A JSON payload as pretty text ("null" when empty; the raw text when it is not JSON). */
export function payloadText(bytes: Uint8Array | undefined): string {
  if (!bytes || bytes.length === 0) return "null";
  const text = decoder.decode(bytes);
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function encodeJson(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed === "") return new Uint8Array(0);
  JSON.parse(trimmed); // throws on bad JSON before anything is sent
  return encoder.encode(trimmed);
}

export const runStatusName = (s: RunStatus): string =>
  ({
    [RunStatus.UNSPECIFIED]: "unknown",
    [RunStatus.RUNNING]: "running",
    [RunStatus.COMPLETED]: "completed",
    [RunStatus.FAILED]: "failed",
    [RunStatus.CANCELED]: "canceled",
  })[s] ?? String(s);

export const stepStatusName = (s: StepStatus): string =>
  ({
    [StepStatus.UNSPECIFIED]: "unknown",
    [StepStatus.RUNNING]: "running",
    [StepStatus.COMPLETED]: "completed",
    [StepStatus.FAILED]: "failed",
    [StepStatus.CANCELED]: "canceled",
  })[s] ?? String(s);

export const stepKindName = (k: StepKind): string => (StepKind[k] ?? String(k)).toLowerCase().replace("_", "-");

/** Steps an executor runs (they have a queue and an execution phase). */
export const isTaskKind = (k: StepKind): boolean =>
  k === StepKind.QUERY || k === StepKind.MUTATION || k === StepKind.ACTION || k === StepKind.ON_COMPLETE;

/** Trace id of a W3C traceparent ("00-<trace id>-<span id>-<flags>"). */
export function traceIdOf(traceparent: string): string | undefined {
  const parts = traceparent.split("-");
  return parts.length === 4 && /^[0-9a-f]{32}$/.test(parts[1] ?? "") ? parts[1] : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
