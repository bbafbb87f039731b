// @weft/sdk/workflow: the deterministic replay engine the coordinator runs workflow code with.

export { fnv1a32, mulberry32 } from "./deterministic.ts";
export { type ApplyOptions, StaleExecutionError, WorkflowExecution, WorkflowNotFoundError } from "./execution.ts";
export {
  ExecutionCache,
  type ExecutionCacheOptions,
  type ExecutionCacheStats,
  FullJournalNeededError,
} from "./execution-cache.ts";
export {
  checkHistory,
  type Divergence,
  HISTORY_FORMAT,
  type HistoryEvent,
  type HistoryExport,
  HistoryFormatError,
  type HistoryRun,
  type HistoryStep,
  type HistoryTimer,
  parseHistory,
  type ReplayCheck,
  type StepCall,
} from "./history.ts";
export {
  EXECUTOR_KINDS,
  type JournalStep,
  type JournalStepStatus,
  type NewStepCommand,
  type RunInfo,
  type StepKindName,
  type TurnCompletion,
  type TurnInput,
  type TurnOutcome,
} from "./journal.ts";
export { replayTurn } from "./replay-turn.ts";
