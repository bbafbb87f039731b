// The executor's spans (one trace per workflow run): each task's CONSUMER span `execute <step>`
// continues the journal's publish span from the NATS headers; its attempts are child spans and
// its retries and pauses are events; the `flush` span of a RecordResultBatch call links to every
// execution it carries; JetStream pulls (`receive`) and ack batches (`ack`) are spans with the
// messaging conventions. With no SDK started every span is a cheap no-op.
import type { JsMsg } from "@nats-io/jetstream";
import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { StepKind, type StepTask } from "@weft/contracts";
import { extractContext } from "@weft/telemetry";

export const tracer = trace.getTracer("weft.executor");

/** A span that records nothing, for tracing off. */
export const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

let probedAt = Number.NEGATIVE_INFINITY;
let probed = false;

/**
 * Whether a tracer provider is installed (its spans have valid ids; the no-op API's do not).
 * Checked at most once a second, so with tracing off a task costs no header parsing and no span.
 */
export function tracingEnabled(now = Date.now()): boolean {
  if (now - probedAt < 1_000) return probed;
  probedAt = now;
  // Never ended, so never exported.
  probed = trace.isSpanContextValid(tracer.startSpan("probe", { root: true }, ROOT_CONTEXT).spanContext());
  return probed;
}

/** Links per span: the SDK keeps 128 unless OTEL_SPAN_LINK_COUNT_LIMIT says otherwise. */
export const LINKS_PER_SPAN = Math.max(Number(process.env.OTEL_SPAN_LINK_COUNT_LIMIT) || 128, 1);

const KIND_NAMES: Record<number, string> = {
  [StepKind.QUERY]: "query",
  [StepKind.MUTATION]: "mutation",
  [StepKind.ACTION]: "action",
  [StepKind.ON_COMPLETE]: "on_complete",
};

/** W3C traceparent of a span, "" when it has no valid context (tracing off). */
export function traceparentOf(span: Span | SpanContext | undefined): string {
  if (!span) return "";
  const sc = "spanContext" in span ? span.spanContext() : span;
  if (!trace.isSpanContextValid(sc)) return "";
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The span context of a span worth linking to, or undefined. */
export function linkableContext(span: Span): SpanContext | undefined {
  const sc = span.spanContext();
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

/**
 * Starts the CONSUMER span of one task's execution. Its parent is the context in the message
 * headers (the journal's publish span), so a redelivery after an executor restart joins the same
 * trace; `receive` is the span of the pull that brought the message (linked).
 */
export function startExecutionSpan(msg: JsMsg, task: StepTask, receive: SpanContext | undefined): Span {
  if (!tracingEnabled()) return NO_SPAN;
  const parent: Context = msg.headers ? extractContext(msg.headers) : ROOT_CONTEXT;
  const msgId = msg.headers?.get("Nats-Msg-Id") || `${task.stepId}.${task.dispatch}`;
  const attributes: Attributes = {
    "messaging.system": "nats",
    "messaging.operation.type": "process",
    "messaging.operation.name": "execute",
    "messaging.destination.name": msg.subject,
    "messaging.message.id": msgId,
    "messaging.message.body.size": msg.data.length,
    "weft.step.id": task.stepId,
    "weft.step.name": task.stepName,
    "weft.step.seq": task.seq,
    "weft.step.kind": KIND_NAMES[task.kind] ?? "unspecified",
    "weft.run.id": task.runId,
    "weft.run.generation": task.generation,
    "weft.workflow.name": task.workflowName,
    "weft.task.dispatch": task.dispatch,
  };
  try {
    const info = msg.info;
    attributes["messaging.consumer.group.name"] = info.consumer;
    attributes["weft.task.delivery_count"] = info.deliveryCount;
    attributes["messaging.nats.stream.sequence"] = info.streamSequence;
  } catch {
    // not a JetStream delivery (tests)
  }
  const links: Link[] | undefined = receive ? [{ context: receive }] : undefined;
  return tracer.startSpan(`execute ${task.stepName}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
}

/** Marks a span failed with the exception. */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  if (err instanceof Error) span.recordException(err);
  else span.recordException(String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Starts a span with links to every valid context; links past the per-span limit go on child
 * spans `<name> links`, so none is dropped.
 */
export function startSpanWithLinks(
  name: string,
  contexts: readonly (SpanContext | undefined)[],
  attributes: Attributes,
  kind: SpanKind = SpanKind.INTERNAL,
): Span {
  const links: Link[] = [];
  for (const c of contexts) if (c) links.push({ context: c });
  const span = tracer.startSpan(name, { kind, attributes, links: links.slice(0, LINKS_PER_SPAN) }, ROOT_CONTEXT);
  if (links.length > LINKS_PER_SPAN && span.isRecording()) {
    const ctx = trace.setSpan(ROOT_CONTEXT, span);
    for (let i = LINKS_PER_SPAN; i < links.length; i += LINKS_PER_SPAN) {
      tracer.startSpan(`${name} links`, { links: links.slice(i, i + LINKS_PER_SPAN) }, ctx).end();
    }
  }
  return span;
}
