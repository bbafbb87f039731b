// Connect interceptors that carry trace context over RPCs: the client side injects the current
// context into the request headers; the server side continues it in a SERVER span per call.
import type { Interceptor } from "@connectrpc/connect";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { extractContext, injectContext } from "./propagation.ts";

const tracer = trace.getTracer("weft.rpc");

export const clientTraceInterceptor: Interceptor = (next) => async (req) => {
  const span = tracer.startSpan(`${req.service.typeName}/${req.method.name}`, {
    kind: SpanKind.CLIENT,
    attributes: { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
  });
  const ctx = trace.setSpan(context.active(), span);
  injectContext(req.header, ctx);
  try {
    return await context.with(ctx, () => next(req));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
};

export const serverTraceInterceptor: Interceptor = (next) => async (req) => {
  const parent = extractContext(req.header);
  const span = tracer.startSpan(
    `${req.service.typeName}/${req.method.name}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => next(req));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
};
