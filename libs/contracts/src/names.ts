// The lower-case names of the wire enums (as Postgres stores them and the SDK shows them), both
// ways, so that every package maps them the same way.
import { RunStatus, StepKind, StepStatus } from "./gen/weft/v1/types_pb.js";

export const runStatusNames = {
  [RunStatus.UNSPECIFIED]: "unspecified",
  [RunStatus.RUNNING]: "running",
  [RunStatus.COMPLETED]: "completed",
  [RunStatus.FAILED]: "failed",
  [RunStatus.CANCELED]: "canceled",
} as const satisfies Record<RunStatus, string>;

export const stepStatusNames = {
  [StepStatus.UNSPECIFIED]: "unspecified",
  [StepStatus.RUNNING]: "running",
  [StepStatus.COMPLETED]: "completed",
  [StepStatus.FAILED]: "failed",
  [StepStatus.CANCELED]: "canceled",
} as const satisfies Record<StepStatus, string>;

export const stepKindNames = {
  [StepKind.UNSPECIFIED]: "unspecified",
  [StepKind.QUERY]: "query",
  [StepKind.MUTATION]: "mutation",
  [StepKind.ACTION]: "action",
  [StepKind.SLEEP]: "sleep",
  [StepKind.EVENT]: "event",
  [StepKind.CHILD]: "child",
  [StepKind.ON_COMPLETE]: "on_complete",
  [StepKind.PATCH]: "patch",
} as const satisfies Record<StepKind, string>;

export type RunStatusName = (typeof runStatusNames)[RunStatus];
export type StepStatusName = (typeof stepStatusNames)[StepStatus];
export type StepKindName = (typeof stepKindNames)[StepKind];

const invert = <E extends number, N extends string>(names: Record<E, N>): Record<N, E> =>
  Object.fromEntries(Object.entries(names).map(([value, name]) => [name, Number(value)])) as Record<N, E>;

export const runStatusValues = invert<RunStatus, RunStatusName>(runStatusNames);
export const stepStatusValues = invert<StepStatus, StepStatusName>(stepStatusNames);
export const stepKindValues = invert<StepKind, StepKindName>(stepKindNames);
