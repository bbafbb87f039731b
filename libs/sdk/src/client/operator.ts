// The operator client: Diagnose on the journal's OperatorService, decoded into plain objects
// (int64 figures as numbers: ages in ms and counts stay far below 2^53).
import { type CallOptions, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { fromTimestamp, OperatorService } from "@weft/contracts";

export interface OperatorClientOptions {
  baseUrl: string;
  transport?: Transport;
  headers?: CallOptions["headers"];
  /** Bearer token (a token of every namespace, or the service token; docs/security.md). */
  token?: string;
}

export interface ShardDiagnosis {
  shard: number;
  readyRuns: number;
  oldestReadyAgeMs: number;
  leasedRuns: number;
  runningTasks: number;
  tasksPending: number;
  tasksAckPending: number;
  oldestUnackedAgeMs: number;
  /** The executor holding the shard's lease, or undefined. */
  executor: string | undefined;
}

export interface Diagnosis {
  generatedAt: Date;
  shards: ShardDiagnosis[];
  readyRuns: number;
  oldestReadyAgeMs: number;
  unclaimedThresholdMs: number;
  unclaimedRuns: {
    runId: string;
    workflowName: string;
    shard: number;
    readyAgeMs: number;
    appVersion: string | undefined;
  }[];
  unclaimedRunsTotal: number;
  overdueSteps: {
    stepId: string;
    runId: string;
    seq: number;
    name: string;
    kind: string;
    overdueMs: number;
    attempt: number;
    dispatch: number;
  }[];
  overdueStepsTotal: number;
  versions: {
    available: boolean;
    note: string;
    waiting: { appVersion: string; readyRuns: number; oldestReadyAgeMs: number; carried: boolean }[];
  };
  warnings: string[];
}

export interface DiagnoseOptions {
  /** Ready runs unclaimed for longer than this are listed (default: the journal's WEFT_DIAGNOSE_UNCLAIMED_MS). */
  unclaimedThresholdMs?: number;
  /** Entries per list (default 20, at most 1000). */
  limit?: number;
  signal?: AbortSignal;
}

export interface OperatorClient {
  diagnose(options?: DiagnoseOptions): Promise<Diagnosis>;
}

export function createOperatorClient(options: OperatorClientOptions): OperatorClient {
  const transport = options.transport ?? createGrpcTransport({ baseUrl: options.baseUrl });
  const rpc = createClient(OperatorService, transport);
  return {
    async diagnose(opts = {}) {
      const call: CallOptions = {};
      if (options.headers || options.token) {
        const headers = new Headers(options.headers);
        if (options.token) headers.set("authorization", `Bearer ${options.token}`);
        call.headers = headers;
      }
      if (opts.signal) call.signal = opts.signal;
      const res = await rpc.diagnose(
        { unclaimedThresholdMs: BigInt(opts.unclaimedThresholdMs ?? 0), limit: opts.limit ?? 0 },
        call,
      );
      const n = Number;
      return {
        generatedAt: fromTimestamp(res.generatedAt) ?? new Date(),
        shards: res.shards.map((s) => ({
          shard: s.shard,
          readyRuns: n(s.readyRuns),
          oldestReadyAgeMs: n(s.oldestReadyAgeMs),
          leasedRuns: n(s.leasedRuns),
          runningTasks: n(s.runningTasks),
          tasksPending: n(s.tasksPending),
          tasksAckPending: n(s.tasksAckPending),
          oldestUnackedAgeMs: n(s.oldestUnackedAgeMs),
          executor: s.executor || undefined,
        })),
        readyRuns: n(res.readyRuns),
        oldestReadyAgeMs: n(res.oldestReadyAgeMs),
        unclaimedThresholdMs: n(res.unclaimedThresholdMs),
        unclaimedRuns: res.unclaimedRuns.map((r) => ({
          runId: r.runId,
          workflowName: r.workflowName,
          shard: r.shard,
          readyAgeMs: n(r.readyAgeMs),
          appVersion: r.appVersion || undefined,
        })),
        unclaimedRunsTotal: n(res.unclaimedRunsTotal),
        overdueSteps: res.overdueSteps.map((s) => ({
          stepId: s.stepId,
          runId: s.runId,
          seq: s.seq,
          name: s.name,
          kind: s.kind,
          overdueMs: n(s.overdueMs),
          attempt: s.attempt,
          dispatch: s.dispatch,
        })),
        overdueStepsTotal: n(res.overdueStepsTotal),
        versions: {
          available: res.versions?.available ?? false,
          note: res.versions?.note ?? "",
          waiting: (res.versions?.waiting ?? []).map((v) => ({
            appVersion: v.appVersion,
            readyRuns: n(v.readyRuns),
            oldestReadyAgeMs: n(v.oldestReadyAgeMs),
            carried: v.carried,
          })),
        },
        warnings: res.warnings,
      };
    },
  };
}
