// Step definitions: the code executors run (I/O allowed). Workflow code only references them.
import { DefinitionError } from "./errors.ts";
import { validateName } from "./names.ts";
import { type RetryPolicy, resolveRetryPolicy, type StepKind } from "./retry.ts";

export type { StepKind } from "./retry.ts";

/** What a step handler receives besides its args. */
export interface StepContext {
  /** The step's id; stable across retries and redeliveries, so use it as the idempotency key. */
  readonly stepId: string;
  readonly runId: string;
  readonly workflowName: string;
  /** Position of the step in the run's call order (0 for the on-complete hook). */
  readonly seq: number;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted on timeout, cancellation or executor shutdown. */
  readonly signal: AbortSignal;
}

export type StepHandler<A, R> = (args: A, ctx: StepContext) => Promise<R> | R;

export interface StepOptions<A, R> {
  name: string;
  kind: StepKind;
  handler: StepHandler<A, R>;
  /** Override the kind's default retry policy; `false` = one attempt. */
  retry?: Partial<RetryPolicy> | false;
  /** Per-attempt timeout; the handler's signal aborts and the attempt fails with TimeoutError. */
  timeoutMs?: number;
}

export interface StepDefinition<A = unknown, R = unknown> {
  readonly name: string;
  readonly kind: StepKind;
  readonly handler: StepHandler<A, R>;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number | undefined;
}

const STEP_KINDS: readonly string[] = ["query", "mutation", "action"];
export const STEP_BRAND: unique symbol = Symbol.for("weft.sdk.step") as never;

export function defineStep<A, R>(options: StepOptions<A, R>): StepDefinition<A, R> {
  const name = validateName("step", options?.name);
  if (!STEP_KINDS.includes(options.kind)) {
    throw new DefinitionError(
      `step "${name}": kind must be "query", "mutation" or "action", got ${JSON.stringify(options.kind)}`,
    );
  }
  if (typeof options.handler !== "function") {
    throw new DefinitionError(`step "${name}": handler must be a function`);
  }
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new DefinitionError(`step "${name}": timeoutMs must be a finite number > 0, got ${timeoutMs}`);
  }
  let retry: RetryPolicy;
  try {
    retry = resolveRetryPolicy(options.kind, options.retry);
  } catch (err) {
    throw new DefinitionError(`step "${name}": ${(err as Error).message}`);
  }
  const def = { name, kind: options.kind, handler: options.handler, retry, timeoutMs, [STEP_BRAND]: true };
  return Object.freeze(def);
}

export function isStepDefinition(value: unknown): value is StepDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[STEP_BRAND] === true;
}
