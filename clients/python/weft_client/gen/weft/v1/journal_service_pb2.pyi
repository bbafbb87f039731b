from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weft_client.gen.weft.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
RESULT_STATUS_DUPLICATE: ResultStatus
RESULT_STATUS_RECORDED: ResultStatus
RESULT_STATUS_STALE: ResultStatus
RESULT_STATUS_UNSPECIFIED: ResultStatus
TURN_STATUS_COMMITTED: TurnStatus
TURN_STATUS_FENCED: TurnStatus
TURN_STATUS_NOT_RUNNING: TurnStatus
TURN_STATUS_UNSPECIFIED: TurnStatus
WORKER_ROLE_COORDINATOR: WorkerRole
WORKER_ROLE_EXECUTOR: WorkerRole
WORKER_ROLE_UNSPECIFIED: WorkerRole

class ClaimRunsRequest(_message.Message):
    __slots__ = ["app_versions", "lease_ms", "max_runs", "owner", "shards"]
    APP_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_RUNS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    app_versions: _containers.RepeatedScalarFieldContainer[str]
    lease_ms: int
    max_runs: int
    owner: str
    shards: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, owner: _Optional[str] = ..., max_runs: _Optional[int] = ..., lease_ms: _Optional[int] = ..., shards: _Optional[_Iterable[int]] = ..., app_versions: _Optional[_Iterable[str]] = ...) -> None: ...

class ClaimRunsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[ClaimedRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[ClaimedRun, _Mapping]]] = ...) -> None: ...

class ClaimedRun(_message.Message):
    __slots__ = ["claim", "lease_token", "partial", "run", "steps"]
    CLAIM_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    claim: int
    lease_token: int
    partial: bool
    run: _types_pb2.Run
    steps: _containers.RepeatedCompositeFieldContainer[_types_pb2.Step]
    def __init__(self, run: _Optional[_Union[_types_pb2.Run, _Mapping]] = ..., lease_token: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[_types_pb2.Step, _Mapping]]] = ..., claim: _Optional[int] = ..., partial: bool = ...) -> None: ...

class CommitTurnsRequest(_message.Message):
    __slots__ = ["continue_ready", "lease_ms", "owner", "turns"]
    CONTINUE_READY_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    continue_ready: bool
    lease_ms: int
    owner: str
    turns: _containers.RepeatedCompositeFieldContainer[Turn]
    def __init__(self, owner: _Optional[str] = ..., turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., continue_ready: bool = ..., lease_ms: _Optional[int] = ...) -> None: ...

class CommitTurnsResponse(_message.Message):
    __slots__ = ["claimed", "results"]
    CLAIMED_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    claimed: _containers.RepeatedCompositeFieldContainer[ClaimedRun]
    results: _containers.RepeatedCompositeFieldContainer[TurnResult]
    def __init__(self, results: _Optional[_Iterable[_Union[TurnResult, _Mapping]]] = ..., claimed: _Optional[_Iterable[_Union[ClaimedRun, _Mapping]]] = ...) -> None: ...

class HeartbeatStepsRequest(_message.Message):
    __slots__ = ["executor_id", "step_ids"]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_IDS_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    step_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, executor_id: _Optional[str] = ..., step_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatStepsResponse(_message.Message):
    __slots__ = ["finished_step_ids"]
    FINISHED_STEP_IDS_FIELD_NUMBER: _ClassVar[int]
    finished_step_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, finished_step_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class LeaseShardsRequest(_message.Message):
    __slots__ = ["executor_id", "lease_ms", "release"]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    lease_ms: int
    release: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, executor_id: _Optional[str] = ..., lease_ms: _Optional[int] = ..., release: _Optional[_Iterable[int]] = ...) -> None: ...

class LeaseShardsResponse(_message.Message):
    __slots__ = ["leases", "live_executors", "shard_count"]
    LEASES_FIELD_NUMBER: _ClassVar[int]
    LIVE_EXECUTORS_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    leases: _containers.RepeatedCompositeFieldContainer[ShardLease]
    live_executors: int
    shard_count: int
    def __init__(self, leases: _Optional[_Iterable[_Union[ShardLease, _Mapping]]] = ..., shard_count: _Optional[int] = ..., live_executors: _Optional[int] = ...) -> None: ...

class NewStep(_message.Message):
    __slots__ = ["args", "child_workflow_name", "event_name", "kind", "name", "seq", "timeout_at", "wake_at"]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    CHILD_WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_AT_FIELD_NUMBER: _ClassVar[int]
    WAKE_AT_FIELD_NUMBER: _ClassVar[int]
    args: bytes
    child_workflow_name: str
    event_name: str
    kind: _types_pb2.StepKind
    name: str
    seq: int
    timeout_at: _timestamp_pb2.Timestamp
    wake_at: _timestamp_pb2.Timestamp
    def __init__(self, seq: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.StepKind, str]] = ..., args: _Optional[bytes] = ..., wake_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., event_name: _Optional[str] = ..., timeout_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., child_workflow_name: _Optional[str] = ...) -> None: ...

class ReadJournalsRequest(_message.Message):
    __slots__ = ["run_ids"]
    RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    run_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ReadJournalsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[ClaimedRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[ClaimedRun, _Mapping]]] = ...) -> None: ...

class RecordResultBatchRequest(_message.Message):
    __slots__ = ["executor_id", "results"]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    results: _containers.RepeatedCompositeFieldContainer[StepResult]
    def __init__(self, executor_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[StepResult, _Mapping]]] = ...) -> None: ...

class RecordResultBatchResponse(_message.Message):
    __slots__ = ["acks"]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[ResultAck]
    def __init__(self, acks: _Optional[_Iterable[_Union[ResultAck, _Mapping]]] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ["app_version", "leaving", "role", "steps", "worker_id", "workflows"]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    LEAVING_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    app_version: str
    leaving: bool
    role: WorkerRole
    steps: _containers.RepeatedCompositeFieldContainer[StepInfo]
    worker_id: str
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowInfo]
    def __init__(self, worker_id: _Optional[str] = ..., role: _Optional[_Union[WorkerRole, str]] = ..., app_version: _Optional[str] = ..., workflows: _Optional[_Iterable[_Union[WorkflowInfo, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[StepInfo, _Mapping]]] = ..., leaving: bool = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ["dispatch_timeout_ms", "shard_count", "subject_prefix"]
    DISPATCH_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    dispatch_timeout_ms: int
    shard_count: int
    subject_prefix: str
    def __init__(self, shard_count: _Optional[int] = ..., subject_prefix: _Optional[str] = ..., dispatch_timeout_ms: _Optional[int] = ...) -> None: ...

class ResultAck(_message.Message):
    __slots__ = ["status", "step_id"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    status: ResultStatus
    step_id: str
    def __init__(self, step_id: _Optional[str] = ..., status: _Optional[_Union[ResultStatus, str]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ["backoff_coefficient", "initial_backoff_ms", "max_attempts", "max_backoff_ms"]
    BACKOFF_COEFFICIENT_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    backoff_coefficient: float
    initial_backoff_ms: int
    max_attempts: int
    max_backoff_ms: int
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff_ms: _Optional[int] = ..., backoff_coefficient: _Optional[float] = ..., max_backoff_ms: _Optional[int] = ...) -> None: ...

class ShardLease(_message.Message):
    __slots__ = ["expires_at", "shard", "token"]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    shard: int
    token: int
    def __init__(self, shard: _Optional[int] = ..., token: _Optional[int] = ..., expires_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StepInfo(_message.Message):
    __slots__ = ["kind", "name"]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    kind: _types_pb2.StepKind
    name: str
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.StepKind, str]] = ...) -> None: ...

class StepResult(_message.Message):
    __slots__ = ["attempt", "failure", "finished_at", "generation", "result", "run_id", "started_at", "step_id", "traceparent"]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    failure: _types_pb2.Failure
    finished_at: _timestamp_pb2.Timestamp
    generation: int
    result: bytes
    run_id: str
    started_at: _timestamp_pb2.Timestamp
    step_id: str
    traceparent: str
    def __init__(self, step_id: _Optional[str] = ..., run_id: _Optional[str] = ..., generation: _Optional[int] = ..., attempt: _Optional[int] = ..., result: _Optional[bytes] = ..., failure: _Optional[_Union[_types_pb2.Failure, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class StreamClaimsRequest(_message.Message):
    __slots__ = ["app_versions", "credits", "lease_ms", "owner"]
    APP_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    LEASE_MS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    app_versions: _containers.RepeatedScalarFieldContainer[str]
    credits: int
    lease_ms: int
    owner: str
    def __init__(self, owner: _Optional[str] = ..., lease_ms: _Optional[int] = ..., credits: _Optional[int] = ..., app_versions: _Optional[_Iterable[str]] = ...) -> None: ...

class StreamClaimsResponse(_message.Message):
    __slots__ = ["runs"]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[ClaimedRun]
    def __init__(self, runs: _Optional[_Iterable[_Union[ClaimedRun, _Mapping]]] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ["completion", "generation", "lease_token", "new_steps", "run_id", "traceparent"]
    COMPLETION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    LEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NEW_STEPS_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    completion: TurnCompletion
    generation: int
    lease_token: int
    new_steps: _containers.RepeatedCompositeFieldContainer[NewStep]
    run_id: str
    traceparent: str
    def __init__(self, run_id: _Optional[str] = ..., lease_token: _Optional[int] = ..., generation: _Optional[int] = ..., new_steps: _Optional[_Iterable[_Union[NewStep, _Mapping]]] = ..., completion: _Optional[_Union[TurnCompletion, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class TurnCompletion(_message.Message):
    __slots__ = ["failure", "result"]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    failure: _types_pb2.Failure
    result: bytes
    def __init__(self, result: _Optional[bytes] = ..., failure: _Optional[_Union[_types_pb2.Failure, _Mapping]] = ...) -> None: ...

class TurnResult(_message.Message):
    __slots__ = ["ready", "run_id", "status"]
    READY_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    run_id: str
    status: TurnStatus
    def __init__(self, run_id: _Optional[str] = ..., status: _Optional[_Union[TurnStatus, str]] = ..., ready: bool = ...) -> None: ...

class WorkflowInfo(_message.Message):
    __slots__ = ["has_on_complete", "name"]
    HAS_ON_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    has_on_complete: bool
    name: str
    def __init__(self, name: _Optional[str] = ..., has_on_complete: bool = ...) -> None: ...

class WorkerRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TurnStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ResultStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
