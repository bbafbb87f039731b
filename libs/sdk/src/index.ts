// Public surface of @weft/sdk: definitions (steps, workflows, app), errors and retry policies.
// The replay engine is `@weft/sdk/workflow`; the client is `@weft/sdk/client`.
export { type App, type AppOptions, defineApp, isApp, loadApp } from "./app.ts";
export {
  AppLoadError,
  CanceledError,
  ChildWorkflowFailedError,
  DefinitionError,
  DuplicateNameError,
  type Failure,
  type FailureInfo,
  failureToError,
  NonDeterminismError,
  NonRetryableError,
  RateLimitError,
  StepFailedError,
  TimeoutError,
  toFailure,
  WeftError,
  WorkflowFailedError,
} from "./errors.ts";
export { MAX_NAME_LENGTH, validateName } from "./names.ts";
export {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  NO_RETRY_POLICY,
  type RetryPolicy,
  resolveRetryPolicy,
} from "./retry.ts";
export {
  defineStep,
  isStepDefinition,
  type StepContext,
  type StepDefinition,
  type StepHandler,
  type StepKind,
  type StepOptions,
} from "./step.ts";
export {
  DEFAULT_MAX_STEPS_IN_FLIGHT,
  defineWorkflow,
  isWorkflowDefinition,
  type OnCompleteHook,
  type RunOutcome,
  type WorkflowContext,
  type WorkflowDefinition,
  type WorkflowHandler,
  type WorkflowOptions,
} from "./workflow-definition.ts";
