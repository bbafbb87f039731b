// The Weft client: start, inspect, await, cancel and signal runs through the journal's public
// WorkflowService, returning plain decoded objects.
import { setTimeout as delay } from "node:timers/promises";
import { type CallOptions, Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { encodePayload, toTimestamp, WorkflowService } from "@weft/contracts";
import { CanceledError, WorkflowFailedError } from "../errors.ts";
import { backoffMs, type RetryPolicy } from "../retry.ts";
import type { WorkflowDefinition } from "../workflow-definition.ts";
import {
  decodeEvent,
  decodeRun,
  decodeStep,
  type EventSnapshot,
  isFinalStatus,
  type RunSnapshot,
  type RunStatusName,
  runStatusFromName,
  type StepSnapshot,
} from "./decode.ts";

export interface WeftClientOptions {
  /** The journal's address, e.g. "http://localhost:7233". */
  baseUrl: string;
  /** Defaults to a gRPC (HTTP/2) transport from @connectrpc/connect-node. */
  transport?: Transport;
  /** Sent with every call. */
  headers?: CallOptions["headers"];
  /** Bearer token sent with every call (`authorization: Bearer <token>`); see docs/security.md. */
  token?: string;
  /** Backoff between reconnects of watch()/result(); defaults to 100 ms ×2 up to 5 s, unlimited attempts. */
  reconnect?: Partial<Pick<RetryPolicy, "initialBackoffMs" | "backoffCoefficient" | "maxBackoffMs">>;
}

export interface StartOptions {
  /** A second start with the same key returns the first run (`existing: true`). */
  idempotencyKey?: string;
  /** Namespace of the run; empty: the token's namespace. */
  namespace?: string;
  /** Pin the run to an app version some coordinator registered; default: the newest carried one. */
  appVersion?: string;
  signal?: AbortSignal;
}

export interface ResetOptions {
  /** Seq of the first step to run again (1 = from the start); or give `fromStep`. */
  fromSeq?: number;
  /** The first step of the run's current generation with this name runs again. */
  fromStep?: string;
  /** Move the run to this app version (default: keep its version). */
  appVersion?: string;
  reason?: string;
  signal?: AbortSignal;
}

export interface RetryFailedFilter {
  workflowName?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Only runs whose error message contains this (case-insensitive). */
  errorContains?: string;
  /** Move the runs to this app version (needs workflowName). */
  appVersion?: string;
  /** 0 or unset = the journal's default. */
  pageSize?: number;
  pageToken?: string;
}

export interface RetryFailedPage {
  /** Runs reset by this call. */
  runIds: string[];
  /** Undefined when no matching run is left. */
  nextPageToken: string | undefined;
}

export interface StartResult<R = unknown> {
  runId: string;
  existing: boolean;
  run: RunSnapshot<R>;
}

export interface ListFilter {
  workflowName?: string;
  statuses?: RunStatusName[];
  createdAfter?: Date;
  createdBefore?: Date;
  parentRunId?: string;
  /** 0 or unset = the journal's default. */
  pageSize?: number;
  pageToken?: string;
}

export interface ListPage {
  runs: RunSnapshot[];
  /** Undefined on the last page. */
  nextPageToken: string | undefined;
}

export interface History {
  run: RunSnapshot;
  steps: StepSnapshot[];
  events: EventSnapshot[];
}

export type WatchedRun = RunSnapshot & { steps?: StepSnapshot[] };

export interface WatchOptions {
  includeSteps?: boolean;
  /**
   * Only the final state: the watch yields once, when the run has ended. The journal then reads
   * the run only when it ends, not on every change (what `result()` uses).
   */
  finalOnly?: boolean;
  signal?: AbortSignal;
}

/** One start of `startMany`. */
export interface StartItem<A = unknown, R = unknown> extends Omit<StartOptions, "signal"> {
  workflow: WorkflowDefinition<A, R> | string;
  args: A;
}

/** Starts per StartWorkflows call (the journal's maximum). */
export const MAX_STARTS_PER_CALL = 1000;

export interface WeftClient {
  start<A, R>(workflow: WorkflowDefinition<A, R>, args: A, options?: StartOptions): Promise<StartResult<R>>;
  start(workflow: string, args: unknown, options?: StartOptions): Promise<StartResult>;
  /**
   * Starts many runs with StartWorkflows, up to 1,000 per call; results in the order given. Each
   * call is checked whole (one bad start fails it and starts nothing in it); with more than
   * 1,000 starts, the calls before a failing one have started their runs.
   */
  startMany<A, R>(starts: readonly StartItem<A, R>[], options?: { signal?: AbortSignal }): Promise<StartResult<R>[]>;
  get(runId: string, options?: { signal?: AbortSignal }): Promise<RunSnapshot>;
  /** Waits for the run's end; resolves with its result, rejects with WorkflowFailedError or CanceledError. */
  result<R = unknown>(runId: string, options?: { signal?: AbortSignal }): Promise<R>;
  /**
   * The run's state on every change until it ends (the last snapshot has a final status),
   * reconnecting with backoff when the stream breaks; after a reconnect the current state is
   * yielded again, so consumers must tolerate repeated snapshots.
   */
  watch(runId: string, options?: WatchOptions): AsyncIterable<WatchedRun>;
  cancel(runId: string, reason?: string, options?: { signal?: AbortSignal }): Promise<RunSnapshot>;
  sendEvent(
    runId: string,
    name: string,
    payload?: unknown,
    options?: { signal?: AbortSignal },
  ): Promise<{ eventId: string; delivered: boolean }>;
  list(filter?: ListFilter, options?: { signal?: AbortSignal }): Promise<ListPage>;
  /** Every run matching the filter, page after page. */
  listAll(filter?: Omit<ListFilter, "pageToken">, options?: { signal?: AbortSignal }): AsyncIterable<RunSnapshot>;
  /** The run with all its steps and events (every GetHistory page). */
  history(runId: string, options?: { signal?: AbortSignal }): Promise<History>;
  /**
   * Starts a new generation of the run that keeps its journal before `fromSeq`/`fromStep` and runs
   * the rest again (any status; an ended run becomes running). Resolves with the reset run.
   */
  reset(runId: string, options: ResetOptions): Promise<{ run: RunSnapshot; fromSeq: number }>;
  /** Resets one page of failed runs matching the filter, each from its first failed step. */
  retryFailed(filter?: RetryFailedFilter, options?: { signal?: AbortSignal }): Promise<RetryFailedPage>;
  /** How many failed runs match the filter (RetryFailed's dry run: nothing changes). */
  countFailed(
    filter?: Omit<RetryFailedFilter, "pageSize" | "pageToken">,
    options?: { signal?: AbortSignal },
  ): Promise<number>;
}

/** Codes after which reconnecting cannot help: the request itself is wrong or not allowed. */
const FINAL_CODES: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.Unimplemented,
  Code.FailedPrecondition,
  Code.OutOfRange,
]);

export function createWeftClient(options: WeftClientOptions): WeftClient {
  const transport = options.transport ?? createGrpcTransport({ baseUrl: options.baseUrl });
  const rpc = createClient(WorkflowService, transport);
  let headers = options.headers;
  if (options.token) {
    const withToken = new Headers(headers);
    withToken.set("authorization", `Bearer ${options.token}`);
    headers = withToken;
  }
  const reconnect: RetryPolicy = {
    maxAttempts: Number.POSITIVE_INFINITY,
    initialBackoffMs: options.reconnect?.initialBackoffMs ?? 100,
    backoffCoefficient: options.reconnect?.backoffCoefficient ?? 2,
    maxBackoffMs: options.reconnect?.maxBackoffMs ?? 5_000,
  };
  const call = (signal?: AbortSignal): CallOptions => {
    const o: CallOptions = {};
    if (headers) o.headers = headers;
    if (signal) o.signal = signal;
    return o;
  };

  /**
   * Reads a stream to its end, or cancels the call (`cancel`) if the end does not come within a
   * second.
   */
  async function finish(stream: AsyncIterator<unknown>, cancel: AbortController): Promise<void> {
    const timer = new AbortController();
    // Settles as "cancelled" when the timer is stopped, after the race is over.
    const timeout = delay(1_000, "timeout" as const, { signal: timer.signal }).catch(() => "cancelled" as const);
    try {
      for (;;) {
        const next = await Promise.race([stream.next(), timeout]);
        if (typeof next === "string") {
          cancel.abort();
          return;
        }
        if (next.done) return;
      }
    } catch {
      // The final status has arrived; how the stream ended after it does not matter.
    } finally {
      timer.abort();
    }
  }

  async function* watch(runId: string, opts: WatchOptions = {}): AsyncGenerator<WatchedRun> {
    const { signal, includeSteps = false, finalOnly = false } = opts;
    let failures = 0;
    for (;;) {
      try {
        const cancel = new AbortController();
        const callSignal = signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal;
        const stream = rpc.watchWorkflow({ runId, includeSteps, finalOnly }, call(callSignal))[Symbol.asyncIterator]();
        for (let next = await stream.next(); !next.done; next = await stream.next()) {
          failures = 0;
          const msg = next.value;
          if (!msg.run) continue;
          const run: WatchedRun = decodeRun(msg.run);
          if (includeSteps) run.steps = msg.steps.map(decodeStep);
          if (isFinalStatus(run.status)) {
            // The server ends the stream right after the final status: read that end rather than
            // reset the stream. A client that resets streams faster than HTTP/2 servers allow
            // (nghttp2: bursts of 1,000, then 33/s) gets its whole connection closed (GOAWAY).
            await finish(stream, cancel);
            yield run;
            return;
          }
          yield run;
        }
        // The stream ended before the run did (server restart, proxy timeout): reconnect.
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof ConnectError && FINAL_CODES.has(err.code)) throw err;
      }
      failures++;
      await delay(backoffMs(reconnect, failures), undefined, signal ? { signal } : {}).catch(() => {
        throw signal?.reason;
      });
    }
  }

  /** The StartWorkflow request of one start (alone, or one of StartWorkflows' starts). */
  const startRequest = (
    workflow: Pick<WorkflowDefinition, "name"> | string,
    args: unknown,
    opts: Omit<StartOptions, "signal">,
  ) => ({
    workflowName: typeof workflow === "string" ? workflow : workflow.name,
    args: encodePayload(args),
    idempotencyKey: opts.idempotencyKey ?? "",
    namespace: opts.namespace ?? "",
    appVersion: opts.appVersion ?? "",
  });

  async function start(workflow: WorkflowDefinition | string, args: unknown, opts: StartOptions = {}) {
    const res = await rpc.startWorkflow(startRequest(workflow, args, opts), call(opts.signal));
    if (!res.run) throw new ConnectError("StartWorkflow returned no run", Code.Internal);
    const run = decodeRun(res.run);
    return { runId: run.id, existing: res.existing, run };
  }

  async function startMany<A, R>(starts: readonly StartItem<A, R>[], opts: { signal?: AbortSignal } = {}) {
    const results: StartResult<R>[] = [];
    for (let at = 0; at < starts.length; at += MAX_STARTS_PER_CALL) {
      const chunk = starts.slice(at, at + MAX_STARTS_PER_CALL);
      const res = await rpc.startWorkflows(
        { starts: chunk.map((s) => startRequest(s.workflow, s.args, s)) },
        call(opts.signal),
      );
      if (res.results.length !== chunk.length) {
        throw new ConnectError(
          `StartWorkflows answered ${res.results.length} of ${chunk.length} starts`,
          Code.Internal,
        );
      }
      for (const r of res.results) {
        if (!r.run) throw new ConnectError("StartWorkflows returned no run", Code.Internal);
        const run = decodeRun(r.run);
        results.push({ runId: run.id, existing: r.existing, run: run as RunSnapshot<R> });
      }
    }
    return results;
  }

  async function list(filter: ListFilter = {}, opts: { signal?: AbortSignal } = {}): Promise<ListPage> {
    const res = await rpc.listWorkflows(
      {
        workflowName: filter.workflowName ?? "",
        statuses: (filter.statuses ?? []).map(runStatusFromName),
        ...(filter.createdAfter ? { createdAfter: toTimestamp(filter.createdAfter) } : {}),
        ...(filter.createdBefore ? { createdBefore: toTimestamp(filter.createdBefore) } : {}),
        parentRunId: filter.parentRunId ?? "",
        pageSize: filter.pageSize ?? 0,
        pageToken: filter.pageToken ?? "",
      },
      call(opts.signal),
    );
    return { runs: res.runs.map((r) => decodeRun(r)), nextPageToken: res.nextPageToken || undefined };
  }

  function retryFailedRequest(filter: RetryFailedFilter, dryRun: boolean) {
    return {
      workflowName: filter.workflowName ?? "",
      ...(filter.createdAfter ? { createdAfter: toTimestamp(filter.createdAfter) } : {}),
      ...(filter.createdBefore ? { createdBefore: toTimestamp(filter.createdBefore) } : {}),
      errorContains: filter.errorContains ?? "",
      appVersion: filter.appVersion ?? "",
      dryRun,
      pageSize: filter.pageSize ?? 0,
      pageToken: filter.pageToken ?? "",
    };
  }

  return {
    start: start as WeftClient["start"],
    startMany,

    async get(runId, opts = {}) {
      const res = await rpc.getWorkflow({ runId }, call(opts.signal));
      if (!res.run) throw new ConnectError(`GetWorkflow returned no run for ${runId}`, Code.Internal);
      return decodeRun(res.run);
    },

    async result<R>(runId: string, opts: { signal?: AbortSignal } = {}): Promise<R> {
      for await (const run of watch(runId, { finalOnly: true, ...(opts.signal ? { signal: opts.signal } : {}) })) {
        if (run.status === "completed") return run.result as R;
        if (run.status === "failed") {
          throw new WorkflowFailedError(runId, run.error ?? { name: "Error", message: "failed without an error" });
        }
        if (run.status === "canceled") throw new CanceledError(run.error?.message || `run ${runId} was canceled`);
      }
      throw new ConnectError(`WatchWorkflow for ${runId} ended without a final state`, Code.Internal);
    },

    watch,

    async cancel(runId, reason = "", opts = {}) {
      const res = await rpc.cancelWorkflow({ runId, reason }, call(opts.signal));
      if (!res.run) throw new ConnectError(`CancelWorkflow returned no run for ${runId}`, Code.Internal);
      return decodeRun(res.run);
    },

    async sendEvent(runId, name, payload, opts = {}) {
      const res = await rpc.sendEvent({ runId, eventName: name, payload: encodePayload(payload) }, call(opts.signal));
      return { eventId: res.eventId, delivered: res.delivered };
    },

    list,

    async *listAll(filter = {}, opts = {}) {
      let pageToken: string | undefined;
      do {
        const page = await list({ ...filter, ...(pageToken ? { pageToken } : {}) }, opts);
        yield* page.runs;
        pageToken = page.nextPageToken;
      } while (pageToken);
    },

    async history(runId, opts = {}) {
      // Every page: a history export must hold the whole journal.
      let res = await rpc.getHistory({ runId }, call(opts.signal));
      if (!res.run) throw new ConnectError(`GetHistory returned no run for ${runId}`, Code.Internal);
      const run = decodeRun(res.run);
      const steps = res.steps.map(decodeStep);
      const events = res.events.map(decodeEvent);
      while (res.nextPageToken) {
        res = await rpc.getHistory({ runId, pageToken: res.nextPageToken }, call(opts.signal));
        steps.push(...res.steps.map(decodeStep));
        events.push(...res.events.map(decodeEvent));
      }
      return { run, steps, events };
    },

    async reset(runId, opts) {
      const res = await rpc.resetWorkflow(
        {
          runId,
          fromSeq: opts.fromSeq ?? 0,
          fromStepName: opts.fromStep ?? "",
          appVersion: opts.appVersion ?? "",
          reason: opts.reason ?? "",
        },
        call(opts.signal),
      );
      if (!res.run) throw new ConnectError(`ResetWorkflow returned no run for ${runId}`, Code.Internal);
      return { run: decodeRun(res.run), fromSeq: res.fromSeq };
    },

    async retryFailed(filter = {}, opts = {}) {
      const res = await rpc.retryFailed(retryFailedRequest(filter, false), call(opts.signal));
      return { runIds: res.runIds, nextPageToken: res.nextPageToken || undefined };
    },

    async countFailed(filter = {}, opts = {}) {
      return (await rpc.retryFailed(retryFailedRequest(filter, true), call(opts.signal))).count;
    },
  };
}
