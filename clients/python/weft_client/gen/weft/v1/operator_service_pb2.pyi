from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DiagnoseRequest(_message.Message):
    __slots__ = ["limit", "unclaimed_threshold_ms"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    UNCLAIMED_THRESHOLD_MS_FIELD_NUMBER: _ClassVar[int]
    limit: int
    unclaimed_threshold_ms: int
    def __init__(self, unclaimed_threshold_ms: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class DiagnoseResponse(_message.Message):
    __slots__ = ["generated_at", "oldest_ready_age_ms", "overdue_steps", "overdue_steps_total", "ready_runs", "shards", "unclaimed_runs", "unclaimed_runs_total", "unclaimed_threshold_ms", "versions", "warnings"]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    OLDEST_READY_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_STEPS_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_STEPS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    READY_RUNS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    UNCLAIMED_RUNS_FIELD_NUMBER: _ClassVar[int]
    UNCLAIMED_RUNS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    UNCLAIMED_THRESHOLD_MS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    generated_at: _timestamp_pb2.Timestamp
    oldest_ready_age_ms: int
    overdue_steps: _containers.RepeatedCompositeFieldContainer[OverdueStep]
    overdue_steps_total: int
    ready_runs: int
    shards: _containers.RepeatedCompositeFieldContainer[ShardBacklog]
    unclaimed_runs: _containers.RepeatedCompositeFieldContainer[WaitingRun]
    unclaimed_runs_total: int
    unclaimed_threshold_ms: int
    versions: VersionReport
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, generated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[ShardBacklog, _Mapping]]] = ..., ready_runs: _Optional[int] = ..., oldest_ready_age_ms: _Optional[int] = ..., unclaimed_threshold_ms: _Optional[int] = ..., unclaimed_runs: _Optional[_Iterable[_Union[WaitingRun, _Mapping]]] = ..., unclaimed_runs_total: _Optional[int] = ..., overdue_steps: _Optional[_Iterable[_Union[OverdueStep, _Mapping]]] = ..., overdue_steps_total: _Optional[int] = ..., versions: _Optional[_Union[VersionReport, _Mapping]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class OverdueStep(_message.Message):
    __slots__ = ["attempt", "dispatch", "kind", "name", "overdue_ms", "run_id", "seq", "step_id"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_MS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    dispatch: int
    kind: str
    name: str
    overdue_ms: int
    run_id: str
    seq: int
    step_id: str
    def __init__(self, step_id: _Optional[str] = ..., run_id: _Optional[str] = ..., seq: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., overdue_ms: _Optional[int] = ..., attempt: _Optional[int] = ..., dispatch: _Optional[int] = ...) -> None: ...

class ShardBacklog(_message.Message):
    __slots__ = ["executor", "leased_runs", "oldest_ready_age_ms", "oldest_unacked_age_ms", "ready_runs", "running_tasks", "shard", "tasks_ack_pending", "tasks_pending"]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    LEASED_RUNS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_READY_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNACKED_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    READY_RUNS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_TASKS_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TASKS_ACK_PENDING_FIELD_NUMBER: _ClassVar[int]
    TASKS_PENDING_FIELD_NUMBER: _ClassVar[int]
    executor: str
    leased_runs: int
    oldest_ready_age_ms: int
    oldest_unacked_age_ms: int
    ready_runs: int
    running_tasks: int
    shard: int
    tasks_ack_pending: int
    tasks_pending: int
    def __init__(self, shard: _Optional[int] = ..., ready_runs: _Optional[int] = ..., oldest_ready_age_ms: _Optional[int] = ..., leased_runs: _Optional[int] = ..., running_tasks: _Optional[int] = ..., tasks_pending: _Optional[int] = ..., tasks_ack_pending: _Optional[int] = ..., oldest_unacked_age_ms: _Optional[int] = ..., executor: _Optional[str] = ...) -> None: ...

class VersionReport(_message.Message):
    __slots__ = ["available", "note", "waiting"]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    available: bool
    note: str
    waiting: _containers.RepeatedCompositeFieldContainer[VersionWait]
    def __init__(self, available: bool = ..., note: _Optional[str] = ..., waiting: _Optional[_Iterable[_Union[VersionWait, _Mapping]]] = ...) -> None: ...

class VersionWait(_message.Message):
    __slots__ = ["app_version", "carried", "oldest_ready_age_ms", "ready_runs"]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    CARRIED_FIELD_NUMBER: _ClassVar[int]
    OLDEST_READY_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    READY_RUNS_FIELD_NUMBER: _ClassVar[int]
    app_version: str
    carried: bool
    oldest_ready_age_ms: int
    ready_runs: int
    def __init__(self, app_version: _Optional[str] = ..., ready_runs: _Optional[int] = ..., oldest_ready_age_ms: _Optional[int] = ..., carried: bool = ...) -> None: ...

class WaitingRun(_message.Message):
    __slots__ = ["app_version", "ready_age_ms", "run_id", "shard", "workflow_name"]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    READY_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    app_version: str
    ready_age_ms: int
    run_id: str
    shard: int
    workflow_name: str
    def __init__(self, run_id: _Optional[str] = ..., workflow_name: _Optional[str] = ..., shard: _Optional[int] = ..., ready_age_ms: _Optional[int] = ..., app_version: _Optional[str] = ...) -> None: ...
