// WatchWorkflow: streams the run (and its steps) whenever it changes, woken by run notices with a
// slow fallback poll, until it sends a terminal status.
import { create, equals } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  RunStatus,
  type WatchWorkflowRequest,
  type WatchWorkflowResponse,
  WatchWorkflowResponseSchema,
} from "@weft/contracts";
import { runSubject } from "@weft/runtime";
import type { JournalContext } from "./context.ts";
import { requireRun } from "./get-workflow.ts";
import { runToProto, stepToProto } from "./messages.ts";
import { getRun } from "./store/runs.ts";
import { stepsOfRun } from "./store/steps.ts";
import { requireUuid } from "./validation.ts";

const FALLBACK_POLL_MS = 1000;

export async function* watchWorkflow(
  j: JournalContext,
  nc: NatsConnection,
  req: WatchWorkflowRequest,
  ctx: HandlerContext,
): AsyncGenerator<WatchWorkflowResponse> {
  const runId = requireUuid("run_id", req.runId);
  await requireRun(j.db, runId);
  let signalled = true;
  let wakeUp: (() => void) | undefined;
  const notify = () => {
    signalled = true;
    wakeUp?.();
  };
  const sub = nc.subscribe(runSubject(j.config.prefix, runId), { callback: notify });
  ctx.signal.addEventListener("abort", notify);
  let last: WatchWorkflowResponse | undefined;
  try {
    while (!ctx.signal.aborted) {
      signalled = false;
      const run = await getRun(j.db, runId);
      if (!run) return;
      const steps = req.includeSteps ? await stepsOfRun(j.db, runId) : [];
      const message = create(WatchWorkflowResponseSchema, { run: runToProto(run), steps: steps.map(stepToProto) });
      if (!last || !equals(WatchWorkflowResponseSchema, last, message)) {
        last = message;
        yield message;
      }
      if (message.run?.status !== RunStatus.RUNNING) return;
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
    sub.unsubscribe();
  }
}
