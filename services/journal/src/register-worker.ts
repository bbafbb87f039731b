// RegisterWorker: records the workflow names a worker's app defines, so StartWorkflow accepts them;
// a coordinator's registration also says which app version it carries (repeated as a heartbeat).
import { create } from "@bufbuild/protobuf";
import {
  type RegisterWorkerRequest,
  type RegisterWorkerResponse,
  RegisterWorkerResponseSchema,
  WorkerRole,
} from "@weft/contracts";
import type { JournalContext } from "./context.ts";
import { registerCoordinator } from "./store/versions.ts";
import { upsertWorkflowDefs } from "./store/workflow-defs.ts";
import { invalid, optionalText, requireCount, requireName } from "./validation.ts";

export async function registerWorker(j: JournalContext, req: RegisterWorkerRequest): Promise<RegisterWorkerResponse> {
  requireName("worker_id", req.workerId);
  const appVersion = optionalText("app_version", req.appVersion, 256) ?? null;
  requireCount("workflows", req.workflows.length, 0, 10_000);
  requireCount("steps", req.steps.length, 0, 100_000);
  const seen = new Set<string>();
  for (const [i, wf] of req.workflows.entries()) {
    requireName(`workflows[${i}].name`, wf.name);
    if (seen.has(wf.name)) throw invalid(`workflows[${i}].name`, `"${wf.name}" is registered twice`);
    seen.add(wf.name);
  }
  for (const [i, step] of req.steps.entries()) requireName(`steps[${i}].name`, step.name);
  if (req.role === WorkerRole.COORDINATOR) {
    await registerCoordinator(
      j.db,
      req.workerId,
      appVersion ?? "",
      req.workflows.map((wf) => wf.name),
      req.leaving,
    );
  }
  if (!req.leaving) {
    await upsertWorkflowDefs(
      j.db,
      req.workflows.map((wf) => ({ name: wf.name, has_on_complete: wf.hasOnComplete, app_version: appVersion })),
    );
  }
  return create(RegisterWorkerResponseSchema, {
    shardCount: j.config.shards,
    subjectPrefix: j.config.prefix,
    dispatchTimeoutMs: j.config.dispatchTimeoutMs,
  });
}
