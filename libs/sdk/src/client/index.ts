// @weft/sdk/client: the client of the journal's public WorkflowService.

export { CanceledError, WorkflowFailedError } from "../errors.ts";
export {
  createWeftClient,
  type History,
  type ListFilter,
  type ListPage,
  MAX_STARTS_PER_CALL,
  type ResetOptions,
  type RetryFailedFilter,
  type RetryFailedPage,
  type StartItem,
  type StartOptions,
  type StartResult,
  type WatchedRun,
  type WatchOptions,
  type WeftClient,
  type WeftClientOptions,
} from "./client.ts";
export {
  decodeEvent,
  decodeFailure,
  decodeRun,
  decodeStep,
  type EventSnapshot,
  isFinalStatus,
  type RunSnapshot,
  type RunStatusName,
  runStatusFromName,
  runStatusName,
  type StepKindName,
  type StepSnapshot,
  type StepStatusName,
} from "./decode.ts";
export { toHistoryExport } from "./history-export.ts";
export {
  createOperatorClient,
  type DiagnoseOptions,
  type Diagnosis,
  type OperatorClient,
  type OperatorClientOptions,
  type ShardDiagnosis,
} from "./operator.ts";
