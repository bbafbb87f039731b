// WatchWorkflow: streams the run (and its steps) whenever it changes, woken by run notices with a
// slow fallback poll, until it sends a terminal status. A watch of the final state only
// (`final_only`) is woken by the notices of ended runs alone, and sends that one message.
import { create, equals } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type WatchWorkflowRequest, type WatchWorkflowResponse, WatchWorkflowResponseSchema } from "@weft/contracts";
import { peerAddress } from "@weft/runtime";
import type { JournalContext } from "./context.ts";
import type { RunRow } from "./db.ts";
import { requireRun } from "./get-workflow.ts";
import { runToProto, stepToProto } from "./messages.ts";
import { principalOf } from "./namespaces.ts";
import type { RunWatches } from "./notifier.ts";
import { getRun } from "./store/runs.ts";
import { stepsOfRun } from "./store/steps.ts";
import { requireUuid } from "./validation.ts";

const FALLBACK_POLL_MS = 1000;

/** Open watches per client address, bounded by WEFT_MAX_WATCHES_PER_CLIENT. */
export class WatchCounter {
  private readonly open = new Map<string, number>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Counts a new watch of `client`, or throws ResourceExhausted; the returned function ends it. */
  acquire(client: string): () => void {
    const n = this.open.get(client) ?? 0;
    if (n >= this.max) {
      throw new ConnectError(
        `WatchWorkflow: client ${client || "(unknown)"} already has ${n} open watches, the limit per client (WEFT_MAX_WATCHES_PER_CLIENT=${this.max})`,
        Code.ResourceExhausted,
      );
    }
    this.open.set(client, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(client) ?? 1) - 1;
      if (left <= 0) this.open.delete(client);
      else this.open.set(client, left);
    };
  }

  /** Open watches of all clients (tests). */
  size(): number {
    let total = 0;
    for (const n of this.open.values()) total += n;
    return total;
  }
}

export async function* watchWorkflow(
  j: JournalContext,
  runWatches: RunWatches,
  req: WatchWorkflowRequest,
  ctx: HandlerContext,
  watches: WatchCounter,
): AsyncGenerator<WatchWorkflowResponse> {
  const runId = requireUuid("run_id", req.runId);
  const release = watches.acquire(ctx.values.get(peerAddress));
  try {
    // The first read checks the run exists and is visible (once: a run never changes namespace).
    const principal = principalOf(ctx);
    yield* watchRun(j, runWatches, runId, req.includeSteps, req.finalOnly, ctx, () =>
      requireRun(j.db, principal, runId),
    );
  } finally {
    release();
  }
}

async function* watchRun(
  j: JournalContext,
  runWatches: RunWatches,
  runId: string,
  includeSteps: boolean,
  finalOnly: boolean,
  ctx: HandlerContext,
  firstRead: () => Promise<RunRow>,
): AsyncGenerator<WatchWorkflowResponse> {
  let signalled = true;
  let wakeUp: (() => void) | undefined;
  const notify = () => {
    signalled = true;
    wakeUp?.();
  };
  const unwatch = runWatches.watch(runId, notify, finalOnly);
  ctx.signal.addEventListener("abort", notify);
  let last: WatchWorkflowResponse | undefined;
  // Subscribed before the first read, so an end committed in between still wakes the watch.
  let read: () => Promise<RunRow | undefined> = firstRead;
  try {
    while (!ctx.signal.aborted) {
      signalled = false;
      const run = await read();
      read = () => getRun(j.db, runId);
      if (!run) return;
      const running = run.status === "running";
      if (!(finalOnly && running)) {
        const steps = includeSteps ? await stepsOfRun(j.db, runId) : [];
        const message = create(WatchWorkflowResponseSchema, { run: runToProto(run), steps: steps.map(stepToProto) });
        if (!last || !equals(WatchWorkflowResponseSchema, last, message)) {
          last = message;
          yield message;
        }
      }
      if (!running) return;
      if (signalled) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FALLBACK_POLL_MS);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  } finally {
    ctx.signal.removeEventListener("abort", notify);
    unwatch();
  }
}
