// SendEvent: stores an event for a run and hands it to a journaled wait for it, if one is running.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { type SendEventRequest, type SendEventResponse, SendEventResponseSchema } from "@weft/contracts";
import { applyCommitEffects } from "./commit-effects.ts";
import { journalLimits } from "./config.ts";
import type { JournalContext } from "./context.ts";
import { uuidv7 } from "./ids.ts";
import { eventLimitError } from "./limits.ts";
import { toBytea } from "./messages.ts";
import { principalOf, visibleRun } from "./namespaces.ts";
import { countEvents, sendEvent as storeEvent } from "./store/events.ts";
import { getRunForUpdate, markReady } from "./store/runs.ts";
import { inDatabaseSpan } from "./telemetry.ts";
import { requireJson, requireName, requireUuid } from "./validation.ts";

export async function sendEvent(
  j: JournalContext,
  req: SendEventRequest,
  ctx: HandlerContext,
): Promise<SendEventResponse> {
  const principal = principalOf(ctx);
  const runId = requireUuid("run_id", req.runId);
  const name = requireName("event_name", req.eventName);
  const payload = requireJson("payload", req.payload, j.config.maxPayloadBytes);
  const { maxEventsPerRun } = journalLimits(j.config);
  const eventId = uuidv7();
  const delivered = await inDatabaseSpan(j, "sendEvent", () =>
    j.db.transaction().execute(async (trx) => {
      // The row lock orders this against a turn that journals a wait for the same event.
      const run = visibleRun(principal, await getRunForUpdate(trx, runId), runId);
      if (run.status !== "running") {
        throw new ConnectError(
          `run_id: run ${runId} is ${run.status}; it takes no more events`,
          Code.FailedPrecondition,
        );
      }
      const held = await countEvents(trx, runId);
      if (held >= maxEventsPerRun) throw eventLimitError(runId, held, maxEventsPerRun);
      const consumed = await storeEvent(trx, { id: eventId, runId, name, payload: toBytea(payload) });
      if (consumed) await markReady(trx, [runId]);
      return consumed;
    }),
  );
  applyCommitEffects(j, { tasks: [], wake: delivered, changedRuns: [runId] });
  return create(SendEventResponseSchema, { eventId, delivered });
}
