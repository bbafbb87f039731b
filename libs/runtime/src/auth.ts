// Bearer-token authentication and authorization of every RPC a Weft service serves. Tokens come
// from a secret file and the service token; only their SHA-256 hashes are kept in memory, compared
// in constant time. Which principal may call which RPC is one table (rpcAccess).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { z } from "zod";
import { ConfigError } from "./config.ts";

/** "client": the public API (WorkflowService); "service": everything, the internal journal API included. */
export type Role = "client" | "service";

/** Who is calling, as the token says. The token itself is never kept. */
export interface Principal {
  /** A label for logs and errors ("console", "ci"), never the token. */
  name: string;
  role: Role;
  /** The one namespace this principal may see and touch, or "*" for every namespace. */
  namespace: string;
  readOnly: boolean;
}

/**
 * What an RPC needs: "open" (no token), "read" (any client token), "write" (a client token that
 * is not read-only), "operator" (a client token of every namespace, read-only allowed: the RPC
 * sees all namespaces), "service" (the service token). Adding an RPC is one line here; an RPC
 * missing from this table needs the service token (default deny for client tokens).
 */
export type Access = "open" | "read" | "write" | "operator" | "service";

export const rpcAccess: Readonly<Record<string, Access>> = {
  "grpc.health.v1.Health/Check": "open",
  "grpc.health.v1.Health/Watch": "open",
  "weft.v1.WorkflowService/StartWorkflow": "write",
  "weft.v1.WorkflowService/StartWorkflows": "write",
  "weft.v1.WorkflowService/GetWorkflow": "read",
  "weft.v1.WorkflowService/ListWorkflows": "read",
  "weft.v1.WorkflowService/CancelWorkflow": "write",
  "weft.v1.WorkflowService/SendEvent": "write",
  "weft.v1.WorkflowService/WatchWorkflow": "read",
  "weft.v1.WorkflowService/GetHistory": "read",
  "weft.v1.WorkflowService/ResetWorkflow": "write",
  "weft.v1.WorkflowService/RetryFailed": "write",
  "weft.v1.JournalService/RegisterWorker": "service",
  "weft.v1.JournalService/ClaimRuns": "service",
  "weft.v1.JournalService/CommitTurns": "service",
  "weft.v1.JournalService/RecordResultBatch": "service",
  "weft.v1.JournalService/HeartbeatSteps": "service",
  "weft.v1.JournalService/LeaseShards": "service",
  "weft.v1.JournalService/StreamClaims": "service",
  "weft.v1.JournalService/ReadJournals": "service",
  "weft.v1.OperatorService/Diagnose": "operator",
};

export const accessOf = (procedure: string): Access => rpcAccess[procedure] ?? "service";

/** Every namespace: service tokens, operator tokens, and every caller when auth is off. */
export const ALL_NAMESPACES = "*";
export const DEFAULT_NAMESPACE = "default";

/** The principal when auth is off: may do everything. */
export const UNAUTHENTICATED_ALL: Principal = {
  name: "anonymous (auth off)",
  role: "service",
  namespace: ALL_NAMESPACES,
  readOnly: false,
};

/** Set by the auth interceptor for the handlers; undefined when no interceptor authenticated the call. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "weft principal" });

const NAMESPACE = /^(\*|[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?)$/;

const tokenEntry = z
  .object({
    name: z.string().min(1).max(128),
    /** The token itself (at least 16 characters), or its hash in `sha256`. */
    token: z.string().min(16).optional(),
    /** Hex SHA-256 of the token, so the file need not hold the token. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits")
      .optional(),
    role: z.enum(["client", "service"]).default("client"),
    namespace: z.string().regex(NAMESPACE, 'a namespace ([a-z0-9_-], at most 63) or "*"'),
    readOnly: z.boolean().default(false),
  })
  .strict()
  .refine((e) => (e.token === undefined) !== (e.sha256 === undefined), "exactly one of token and sha256");

const tokenFile = z.object({ tokens: z.array(tokenEntry) }).strict();

export type TokenEntry = z.input<typeof tokenEntry>;

interface HashedToken {
  hash: Buffer;
  principal: Principal;
}

export const hashToken = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

/** The accepted tokens, as hashes. */
export class TokenRegistry {
  private readonly entries: HashedToken[] = [];

  add(tokenOrHash: { token: string } | { sha256: string }, principal: Principal): this {
    const hash = "token" in tokenOrHash ? hashToken(tokenOrHash.token) : Buffer.from(tokenOrHash.sha256, "hex");
    this.entries.push({ hash, principal });
    return this;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The principal of a token, comparing against every entry in constant time per entry. */
  authenticate(token: string): Principal | undefined {
    const hash = hashToken(token);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash) && !found) found = entry.principal;
    }
    return found;
  }
}

/** Parses a token file's text (JSON: `{"tokens": [{name, token | sha256, role, namespace, readOnly}]}`). */
export function parseTokenFile(text: string, source: string): TokenRegistry {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not JSON (${(err as Error).message})`);
  }
  const parsed = tokenFile.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`${source}: ${lines.join("; ")}`);
  }
  const registry = new TokenRegistry();
  for (const e of parsed.data.tokens) {
    registry.add(e.token !== undefined ? { token: e.token } : { sha256: e.sha256 as string }, {
      name: e.name,
      role: e.role,
      namespace: e.role === "service" ? ALL_NAMESPACES : e.namespace,
      readOnly: e.role === "service" ? false : e.readOnly,
    });
  }
  return registry;
}

/** WEFT_AUTH and WEFT_AUTH_TOKENS_FILE (with commonEnv's WEFT_SERVICE_TOKEN): the settings of a service that checks tokens. */
export const authEnv = {
  /** "required" (default): every RPC but health needs a token. "off": no checks (development only). */
  WEFT_AUTH: z.enum(["required", "off"]).default("required"),
  WEFT_AUTH_TOKENS_FILE: z.string().optional(),
};

export type AuthPolicy = { mode: "off" } | { mode: "required"; tokens: TokenRegistry };

/** Reads a secret from a variable or a file named by `<name>_FILE` (the file wins; trailing newline dropped). */
export function readSecret(
  value: string | undefined,
  file: string | undefined,
  variable: string,
  minLength = 16,
): string | undefined {
  if (file === undefined) return value;
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`${variable}_FILE: cannot read ${file} (${(err as Error).message})`);
  }
  if (text.length < minLength)
    throw new ConfigError(`${variable}_FILE: ${file} holds fewer than ${minLength} characters`);
  return text;
}

/** The server's token policy from its parsed settings. Required with no token at all is a config error. */
export function authPolicyFrom(e: {
  WEFT_AUTH: "required" | "off";
  WEFT_AUTH_TOKENS_FILE?: string;
  WEFT_SERVICE_TOKEN?: string;
  WEFT_SERVICE_TOKEN_FILE?: string;
}): AuthPolicy {
  if (e.WEFT_AUTH === "off") return { mode: "off" };
  let tokens = new TokenRegistry();
  if (e.WEFT_AUTH_TOKENS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(e.WEFT_AUTH_TOKENS_FILE, "utf8");
    } catch (err) {
      throw new ConfigError(
        `WEFT_AUTH_TOKENS_FILE: cannot read ${e.WEFT_AUTH_TOKENS_FILE} (${(err as Error).message})`,
      );
    }
    tokens = parseTokenFile(text, `WEFT_AUTH_TOKENS_FILE ${e.WEFT_AUTH_TOKENS_FILE}`);
  }
  const service = readSecret(e.WEFT_SERVICE_TOKEN, e.WEFT_SERVICE_TOKEN_FILE, "WEFT_SERVICE_TOKEN");
  if (service !== undefined) {
    tokens.add({ token: service }, { name: "service", role: "service", namespace: ALL_NAMESPACES, readOnly: false });
  }
  if (tokens.size === 0) {
    throw new ConfigError(
      "WEFT_AUTH is required (the default) but no token is configured: set WEFT_SERVICE_TOKEN or WEFT_SERVICE_TOKEN_FILE " +
        "(and WEFT_AUTH_TOKENS_FILE for clients), or WEFT_AUTH=off for development",
    );
  }
  return { mode: "required", tokens };
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/;

/** Why a principal may not call a procedure, or undefined when it may. */
export function denial(principal: Principal, procedure: string): string | undefined {
  const access = accessOf(procedure);
  if (access === "open" || principal.role === "service") return undefined;
  if (access === "service") return `${procedure} needs the service token; token "${principal.name}" is a client token`;
  if (access === "write" && principal.readOnly)
    return `${procedure} changes runs; token "${principal.name}" is read-only`;
  if (access === "operator" && principal.namespace !== ALL_NAMESPACES) {
    return `${procedure} sees every namespace; token "${principal.name}" is scoped to namespace "${principal.namespace}"`;
  }
  return undefined;
}

/**
 * Server interceptor: authenticates the bearer token (gRPC metadata or HTTP header
 * `authorization: Bearer <token>`, the same for gRPC, gRPC-Web and Connect), authorizes the
 * procedure by rpcAccess, and hands the principal to the handler (principalKey).
 */
export function authInterceptor(policy: AuthPolicy): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    if (policy.mode === "off") {
      req.contextValues.set(principalKey, UNAUTHENTICATED_ALL);
      return next(req);
    }
    if (accessOf(procedure) === "open") return next(req);
    const header = req.header.get("authorization");
    if (header === null) {
      throw new ConnectError(`${procedure} needs a bearer token (authorization: Bearer <token>)`, Code.Unauthenticated);
    }
    const match = BEARER.exec(header);
    if (!match?.[1]) {
      throw new ConnectError('authorization: expected "Bearer <token>"', Code.Unauthenticated);
    }
    const principal = policy.tokens.authenticate(match[1]);
    if (!principal) throw new ConnectError("authorization: unknown token", Code.Unauthenticated);
    const denied = denial(principal, procedure);
    if (denied) throw new ConnectError(denied, Code.PermissionDenied);
    req.contextValues.set(principalKey, principal);
    return next(req);
  };
}

/** Client interceptor: sends `authorization: Bearer <token>` on every call (nothing when no token). */
export function bearerInterceptor(token: string | undefined): Interceptor {
  return (next) => (req) => {
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** The service token a coordinator or executor sends (WEFT_SERVICE_TOKEN or WEFT_SERVICE_TOKEN_FILE). */
export const serviceTokenFrom = (e: { WEFT_SERVICE_TOKEN?: string; WEFT_SERVICE_TOKEN_FILE?: string }) =>
  readSecret(e.WEFT_SERVICE_TOKEN, e.WEFT_SERVICE_TOKEN_FILE, "WEFT_SERVICE_TOKEN");
