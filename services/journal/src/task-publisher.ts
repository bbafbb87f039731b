// Publishes one StepTask per dispatched step to JetStream, after the commit that created or
// redispatched it. The message id `<step_id>.<dispatch>` makes a repeated publish harmless; a lost
// publish is repaired by the sweeper, so failures are logged, not thrown.
import { create, toBinary } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { StepTaskSchema, toTimestamp } from "@weft/contracts";
import { type Logger, taskSubject } from "@weft/runtime";
import type { StepRow } from "./db.ts";
import { stepKindToProto } from "./messages.ts";

export interface TaskToPublish {
  step: StepRow;
  workflowName: string;
}

export class TaskPublisher {
  private readonly js: JetStreamClient;
  private readonly prefix: string;
  private readonly logger: Logger;

  constructor(js: JetStreamClient, prefix: string, logger: Logger) {
    this.js = js;
    this.prefix = prefix;
    this.logger = logger;
  }

  /** Publishes all tasks concurrently; resolves with the number that failed. */
  async publish(tasks: readonly TaskToPublish[]): Promise<number> {
    if (tasks.length === 0) return 0;
    const outcomes = await Promise.allSettled(tasks.map((t) => this.publishOne(t)));
    let failed = 0;
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === "rejected") {
        failed++;
        if (failed <= 3) {
          this.logger.warn(
            { err: outcome.reason, stepId: tasks[i]?.step.id },
            "task publish failed; the sweeper will republish",
          );
        }
      }
    }
    return failed;
  }

  private publishOne({ step, workflowName }: TaskToPublish) {
    const task = create(StepTaskSchema, {
      stepId: step.id,
      runId: step.run_id,
      generation: step.generation,
      seq: step.seq,
      workflowName,
      stepName: step.name,
      kind: stepKindToProto[step.kind],
      args: step.args
        ? new Uint8Array(step.args.buffer, step.args.byteOffset, step.args.byteLength)
        : new Uint8Array(0),
      shard: step.shard,
      dispatch: step.dispatch,
      createdAt: toTimestamp(step.created_at),
    });
    const h = step.traceparent ? headers() : undefined;
    if (h && step.traceparent) h.set("traceparent", step.traceparent);
    return this.js.publish(taskSubject(this.prefix, step.shard), toBinary(StepTaskSchema, task), {
      msgID: `${step.id}.${step.dispatch}`,
      headers: h,
    });
  }
}
