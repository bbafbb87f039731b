// Publishes one StepTask per dispatched step to JetStream, after the commit that created or
// redispatched it. The message id `<step_id>.<dispatch>` makes a repeated publish harmless; a lost
// publish is repaired by the sweeper, so failures are logged, not thrown. Each publish is a
// PRODUCER span `publish <step name>` in the step's trace (parent: its persisted traceparent, the
// turn that journaled it), and the message headers carry that span's context to the executor.
import { create, toBinary } from "@bufbuild/protobuf";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { StepTaskSchema, toTimestamp } from "@weft/contracts";
import { type Logger, taskSubject } from "@weft/runtime";
import { context, contextFromTraceparent, injectContext, SpanKind, SpanStatusCode, trace } from "@weft/telemetry";
import { AckedPublisher } from "./acked-publisher.ts";
import type { StepRow } from "./db.ts";
import { stepKindToProto } from "./messages.ts";
import type { JournalMetrics } from "./metrics.ts";
import { tracer } from "./telemetry.ts";

export interface TaskToPublish {
  step: StepRow;
  workflowName: string;
}

export class TaskPublisher {
  private readonly acked: AckedPublisher;
  private readonly prefix: string;
  private readonly logger: Logger;
  private readonly metrics: JournalMetrics;
  /** Called after a publish failed (the journal checks that the task stream still exists). */
  onFailure: (() => void) | undefined;

  constructor(nc: NatsConnection, prefix: string, logger: Logger, metrics: JournalMetrics) {
    this.acked = new AckedPublisher(nc);
    this.prefix = prefix;
    this.logger = logger;
    this.metrics = metrics;
  }

  private readonly inFlight = new Set<Promise<number>>();

  /**
   * Starts publishing without making the caller wait for JetStream's acks (the commit already
   * holds the truth; a lost publish is the sweeper's to repair): an RPC answers one hop sooner.
   */
  dispatch(tasks: readonly TaskToPublish[], reason: "dispatched" | "republished" = "dispatched"): void {
    if (tasks.length === 0) return;
    const p = this.publish(tasks, reason);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /**
   * At shutdown, before the NATS connection drains: waits for every dispatched publish, then
   * closes the ack subscription (later publishes fail and are left to the sweeper).
   */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.acked.close();
  }

  /** Publishes all tasks concurrently; resolves with the number that failed (never rejects). */
  async publish(tasks: readonly TaskToPublish[], reason: "dispatched" | "republished" = "dispatched"): Promise<number> {
    if (tasks.length === 0) return 0;
    const outcomes = await Promise.allSettled(tasks.map((t) => this.publishOne(t, reason)));
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
    this.metrics.tasksPublished.inc({ reason }, tasks.length - failed);
    if (failed > 0) {
      this.metrics.taskPublishFailures.inc(failed);
      this.onFailure?.();
    }
    return failed;
  }

  private async publishOne({ step, workflowName }: TaskToPublish, reason: "dispatched" | "republished") {
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
    const subject = taskSubject(this.prefix, step.shard);
    const msgID = `${step.id}.${step.dispatch}`;
    const data = toBinary(StepTaskSchema, task);
    const span = tracer.startSpan(
      `publish ${step.name}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.name": "publish",
          "messaging.destination.name": subject,
          "messaging.message.id": msgID,
          "weft.step.id": step.id,
        },
      },
      contextFromTraceparent(step.traceparent ?? undefined),
    );
    if (reason === "republished") span.addEvent("republished", { "weft.step.dispatch": step.dispatch });
    const h = headers();
    injectContext(h, trace.setSpan(context.active(), span));
    // Tracing off here: still hand the step's own context on, so the executor joins the run's trace.
    if (!h.has("traceparent") && step.traceparent) h.set("traceparent", step.traceparent);
    try {
      return await this.acked.publish(subject, data, msgID, h);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }
}
