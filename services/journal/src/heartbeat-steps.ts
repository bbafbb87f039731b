// HeartbeatSteps: long steps prove they are alive so the sweeper leaves their tasks alone.
import { create } from "@bufbuild/protobuf";
import { type HeartbeatStepsRequest, type HeartbeatStepsResponse, HeartbeatStepsResponseSchema } from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import { heartbeatSteps as beat } from "./store/steps.ts";
import { requireCount, requireName, requireUuid } from "./validation.ts";

export async function heartbeatSteps(j: JournalContext, req: HeartbeatStepsRequest): Promise<HeartbeatStepsResponse> {
  requireName("executor_id", req.executorId);
  requireCount("step_ids", req.stepIds.length, 0, 100_000);
  const ids = req.stepIds.map((id, i) => requireUuid(`step_ids[${i}]`, id));
  const alive = new Set(await beat(j.db, ids));
  return create(HeartbeatStepsResponseSchema, { finishedStepIds: ids.filter((id) => !alive.has(id)) });
}
