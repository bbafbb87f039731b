// Tenancy at the edge: the caller's principal (set by the auth interceptor) decides which
// namespace a new run goes to and which runs a call may see. A run of another namespace answers
// exactly as a run that does not exist, so its existence does not leak.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ALL_NAMESPACES, DEFAULT_NAMESPACE, type Principal, principalKey } from "@weft/runtime";
import type { RunRow } from "./db.ts";
import { invalid, notFound } from "./validation.ts";

const NAMESPACE = /^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$/;

export function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  // The journal always installs the auth interceptor; a call without a principal is a wiring bug,
  // refused rather than served unscoped.
  if (!principal) throw new ConnectError("no authenticated principal for this call", Code.Unauthenticated);
  return principal;
}

function requireNamespace(field: string, value: string): string {
  if (!NAMESPACE.test(value)) {
    throw invalid(
      field,
      `"${value.slice(0, 80)}" is not a namespace (a-z, 0-9, _ and -, at most 63, starting and ending alphanumeric)`,
    );
  }
  return value;
}

/** The namespace a new run goes to: the requested one if the principal may use it. */
export function namespaceForStart(principal: Principal, requested: string): string {
  if (requested === "") return principal.namespace === ALL_NAMESPACES ? DEFAULT_NAMESPACE : principal.namespace;
  const ns = requireNamespace("namespace", requested);
  if (principal.namespace !== ALL_NAMESPACES && principal.namespace !== ns) {
    throw new ConnectError(
      `namespace: token "${principal.name}" is scoped to namespace "${principal.namespace}", not "${ns}"`,
      Code.PermissionDenied,
    );
  }
  return ns;
}

/** The namespace a list is limited to (undefined: every namespace). */
export function namespaceForList(principal: Principal, requested: string): string | undefined {
  if (requested === "") return principal.namespace === ALL_NAMESPACES ? undefined : principal.namespace;
  return namespaceForStart(principal, requested);
}

export function canSee(principal: Principal, run: Pick<RunRow, "namespace">): boolean {
  return principal.namespace === ALL_NAMESPACES || principal.namespace === run.namespace;
}

/** The run if it exists and the principal may see it; otherwise the same NotFound either way. */
export function visibleRun<R extends Pick<RunRow, "namespace">>(
  principal: Principal,
  run: R | undefined,
  runId: string,
  field = "run_id",
): R {
  if (!run || !canSee(principal, run)) throw notFound(field, `run ${runId} does not exist`);
  return run;
}
