// Retry policies of steps and the backoff between attempts. Executors apply them; the SDK only
// resolves a step's policy at definition time so a bad policy fails at start-up.
import { DefinitionError } from "./errors.ts";

export type StepKind = "query" | "mutation" | "action";

export interface RetryPolicy {
  /** Total attempts including the first (1 = no retry). */
  readonly maxAttempts: number;
  /** Base delay before the second attempt. */
  readonly initialBackoffMs: number;
  /** Each further attempt multiplies the base delay by this. */
  readonly backoffCoefficient: number;
  /** Upper bound of the base delay. */
  readonly maxBackoffMs: number;
}

/** Defaults for idempotent kinds (query, mutation): 4 attempts from 125 ms, ×2, at most 30 s. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 125,
  backoffCoefficient: 2,
  maxBackoffMs: 30_000,
});

/** Actions are not assumed idempotent: one attempt unless the step sets `retry`. */
export const NO_RETRY_POLICY: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, maxAttempts: 1 });

/**
 * The policy a step runs with. `false` means a single attempt. A partial policy fills the missing
 * fields from DEFAULT_RETRY_POLICY, for every kind: an action that sets `retry: {}` opts into the
 * idempotent defaults (4 attempts). Without `retry`, query/mutation get the defaults and action one attempt.
 */
export function resolveRetryPolicy(kind: StepKind, retry?: Partial<RetryPolicy> | false): RetryPolicy {
  if (retry === false) return NO_RETRY_POLICY;
  if (retry === undefined) return kind === "action" ? NO_RETRY_POLICY : DEFAULT_RETRY_POLICY;
  if (typeof retry !== "object" || retry === null) {
    throw new DefinitionError(`retry must be a policy object or false, got ${String(retry)}`);
  }
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...stripUndefined(retry) };
  const { maxAttempts, initialBackoffMs, backoffCoefficient, maxBackoffMs } = policy;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new DefinitionError(`retry.maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  }
  if (!Number.isFinite(initialBackoffMs) || initialBackoffMs < 0) {
    throw new DefinitionError(`retry.initialBackoffMs must be a finite number >= 0, got ${initialBackoffMs}`);
  }
  if (!Number.isFinite(backoffCoefficient) || backoffCoefficient < 1) {
    throw new DefinitionError(`retry.backoffCoefficient must be a finite number >= 1, got ${backoffCoefficient}`);
  }
  if (!Number.isFinite(maxBackoffMs) || maxBackoffMs < initialBackoffMs) {
    throw new DefinitionError(
      `retry.maxBackoffMs must be a finite number >= initialBackoffMs (${initialBackoffMs}), got ${maxBackoffMs}`,
    );
  }
  return Object.freeze(policy);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Delay before the attempt after `attempt` (1-based: `backoffMs(p, 1)` is the wait before the
 * second attempt). "Equal jitter": with base = min(initial · coefficient^(attempt-1), max), the
 * delay is uniform in [base/2, base]. Half the base keeps retries spread out (no thundering herd)
 * while guaranteeing a minimum wait, which full jitter (uniform in [0, base]) does not.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const base = Math.min(policy.initialBackoffMs * policy.backoffCoefficient ** exponent, policy.maxBackoffMs);
  const r = Math.min(Math.max(random(), 0), 1);
  return base / 2 + (base / 2) * r;
}
