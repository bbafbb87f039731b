// CORS for browsers (Connect-Web) on the service port: only configured origins are allowed; the
// allowed and exposed headers are those the Connect, gRPC-Web and gRPC protocols need.
import type { IncomingMessage, ServerResponse } from "node:http";
import { cors as connectCors } from "@connectrpc/connect";

export interface CorsPolicy {
  /** Exact origins ("https://console.example.com"), or "*" for any. */
  origins: readonly string[];
  /** Extra request headers to allow (e.g. "authorization"). */
  headers?: readonly string[];
}

/**
 * Applies the policy to a request. Returns true when the request was a preflight and has been
 * answered; otherwise the caller goes on to handle it (with the CORS headers set when allowed).
 */
export function applyCors(policy: CorsPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  const allowed = policy.origins.includes("*") || policy.origins.includes(origin);
  if (!allowed) {
    if (req.method === "OPTIONS") {
      res.writeHead(403, { "content-type": "text/plain" });
      res.end(`origin ${origin} is not allowed\n`);
      return true;
    }
    return false;
  }
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("vary", "Origin");
  res.setHeader("access-control-expose-headers", connectCors.exposedHeaders.join(", "));
  if (req.method === "OPTIONS") {
    res.writeHead(204, {
      "access-control-allow-methods": connectCors.allowedMethods.join(", "),
      "access-control-allow-headers": [...connectCors.allowedHeaders, ...(policy.headers ?? [])].join(", "),
      "access-control-max-age": "7200",
    });
    res.end();
    return true;
  }
  return false;
}
