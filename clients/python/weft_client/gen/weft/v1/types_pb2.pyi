from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
RUN_STATUS_CANCELED: RunStatus
RUN_STATUS_COMPLETED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_RUNNING: RunStatus
RUN_STATUS_UNSPECIFIED: RunStatus
STEP_KIND_ACTION: StepKind
STEP_KIND_CHILD: StepKind
STEP_KIND_EVENT: StepKind
STEP_KIND_MUTATION: StepKind
STEP_KIND_ON_COMPLETE: StepKind
STEP_KIND_PATCH: StepKind
STEP_KIND_QUERY: StepKind
STEP_KIND_SLEEP: StepKind
STEP_KIND_UNSPECIFIED: StepKind
STEP_STATUS_CANCELED: StepStatus
STEP_STATUS_COMPLETED: StepStatus
STEP_STATUS_FAILED: StepStatus
STEP_STATUS_RUNNING: StepStatus
STEP_STATUS_UNSPECIFIED: StepStatus

class Event(_message.Message):
    __slots__ = ["consumed_by_seq", "created_at", "id", "name", "payload", "run_id"]
    CONSUMED_BY_SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    consumed_by_seq: int
    created_at: _timestamp_pb2.Timestamp
    id: str
    name: str
    payload: bytes
    run_id: str
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., name: _Optional[str] = ..., payload: _Optional[bytes] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., consumed_by_seq: _Optional[int] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ["details", "message", "name", "stack"]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STACK_FIELD_NUMBER: _ClassVar[int]
    details: bytes
    message: str
    name: str
    stack: str
    def __init__(self, name: _Optional[str] = ..., message: _Optional[str] = ..., stack: _Optional[str] = ..., details: _Optional[bytes] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ["app_version", "args", "completed_at", "created_at", "error", "generation", "id", "idempotency_key", "namespace", "parent_run_id", "result", "shard", "status", "traceparent", "updated_at", "workflow_name"]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    app_version: str
    args: bytes
    completed_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    error: Failure
    generation: int
    id: str
    idempotency_key: str
    namespace: str
    parent_run_id: str
    result: bytes
    shard: int
    status: RunStatus
    traceparent: str
    updated_at: _timestamp_pb2.Timestamp
    workflow_name: str
    def __init__(self, id: _Optional[str] = ..., workflow_name: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., args: _Optional[bytes] = ..., result: _Optional[bytes] = ..., error: _Optional[_Union[Failure, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., generation: _Optional[int] = ..., shard: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ..., app_version: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class Step(_message.Message):
    __slots__ = ["args", "attempt", "child_run_id", "child_workflow_name", "completed_at", "completion_order", "created_at", "error", "event_name", "generation", "id", "kind", "name", "result", "run_id", "seq", "started_at", "status", "timeout_at", "traceparent", "wake_at"]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CHILD_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CHILD_WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_ORDER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_AT_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    WAKE_AT_FIELD_NUMBER: _ClassVar[int]
    args: bytes
    attempt: int
    child_run_id: str
    child_workflow_name: str
    completed_at: _timestamp_pb2.Timestamp
    completion_order: int
    created_at: _timestamp_pb2.Timestamp
    error: Failure
    event_name: str
    generation: int
    id: str
    kind: StepKind
    name: str
    result: bytes
    run_id: str
    seq: int
    started_at: _timestamp_pb2.Timestamp
    status: StepStatus
    timeout_at: _timestamp_pb2.Timestamp
    traceparent: str
    wake_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., run_id: _Optional[str] = ..., generation: _Optional[int] = ..., seq: _Optional[int] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[StepKind, str]] = ..., status: _Optional[_Union[StepStatus, str]] = ..., args: _Optional[bytes] = ..., result: _Optional[bytes] = ..., error: _Optional[_Union[Failure, _Mapping]] = ..., attempt: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., completion_order: _Optional[int] = ..., wake_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., event_name: _Optional[str] = ..., child_workflow_name: _Optional[str] = ..., child_run_id: _Optional[str] = ..., timeout_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., traceparent: _Optional[str] = ...) -> None: ...

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class StepKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class StepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
