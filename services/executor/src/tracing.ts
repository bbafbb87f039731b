// The executor's spans (one trace per workflow run): each task's CONSUMER span `execute <step>`
// continues the journal's publish span from the NATS headers, and the handler runs inside it; a
// failed attempt is an `exception` event, retries, later attempts and pauses are events too, so a
// step that succeeds at once is one span. A RecordResultBatch call runs under a `flush` span (the
// journal's span of the call links every execution it carries, from each result's traceparent);
// JetStream pulls (`receive`) and ack batches (`ack`) are spans with the messaging conventions.
// With no SDK started every span is a cheap no-op.
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
import { extractContext, formatTraceparent } from "@weft/telemetry";

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

const KIND_NAMES: Record<number, string> = {
  [StepKind.QUERY]: "query",
  [StepKind.MUTATION]: "mutation",
  [StepKind.ACTION]: "action",
  [StepKind.ON_COMPLETE]: "on_complete",
};

/** W3C traceparent of a span, "" when it has no valid context (tracing off). */
export function traceparentOf(span: Span | SpanContext | undefined): string {
  if (!span) return "";
  return formatTraceparent("spanContext" in span ? span.spanContext() : span);
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
  // What an operator filters by; the step's name is in the span's, the run's id on the trace's
  // root (each attribute costs the SDK's checks and the exporter's encoding, per step).
  const attributes: Attributes = {
    "messaging.system": "nats",
    "messaging.operation.name": "execute",
    "messaging.destination.name": msg.subject,
    "messaging.message.id": msgId,
    "weft.step.id": task.stepId,
    "weft.step.kind": KIND_NAMES[task.kind] ?? "unspecified",
  };
  try {
    attributes["weft.task.delivery_count"] = msg.info.deliveryCount;
  } catch {
    // not a JetStream delivery (tests)
  }
  const links: Link[] | undefined = receive ? [{ context: receive }] : undefined;
  return tracer.startSpan(`execute ${task.stepName}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
}

/**
 * A failed attempt on the execution span: an `exception` event (type, message, stack trace) that
 * names the attempt. The span's status is the outcome's, set when the task ends.
 */
export function recordAttemptFailure(span: Span, err: unknown, attempt: number): void {
  const attributes: Attributes = { "weft.step.attempt": attempt };
  if (err instanceof Error) {
    attributes["exception.type"] = err.name;
    attributes["exception.message"] = err.message;
    if (err.stack) attributes["exception.stacktrace"] = err.stack;
  } else {
    attributes["exception.message"] = String(err);
  }
  span.addEvent("exception", attributes);
}

/** Marks a span failed with the exception. */
export function failSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  if (err instanceof Error) span.recordException(err);
  else span.recordException(String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}
