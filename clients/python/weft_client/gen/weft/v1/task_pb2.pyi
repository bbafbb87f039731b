from google.protobuf import timestamp_pb2 as _timestamp_pb2
from weft_client.gen.weft.v1 import types_pb2 as _types_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RateLimitNotice(_message.Message):
    __slots__ = ["executor_id", "step_name", "until"]
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_NAME_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    step_name: str
    until: _timestamp_pb2.Timestamp
    def __init__(self, step_name: _Optional[str] = ..., until: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., executor_id: _Optional[str] = ...) -> None: ...

class StepTask(_message.Message):
    __slots__ = ["args", "created_at", "dispatch", "generation", "kind", "run_id", "seq", "shard", "step_id", "step_name", "workflow_name"]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DISPATCH_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_NAME_FIELD_NUMBER: _ClassVar[int]
    args: bytes
    created_at: _timestamp_pb2.Timestamp
    dispatch: int
    generation: int
    kind: _types_pb2.StepKind
    run_id: str
    seq: int
    shard: int
    step_id: str
    step_name: str
    workflow_name: str
    def __init__(self, step_id: _Optional[str] = ..., run_id: _Optional[str] = ..., generation: _Optional[int] = ..., seq: _Optional[int] = ..., workflow_name: _Optional[str] = ..., step_name: _Optional[str] = ..., kind: _Optional[_Union[_types_pb2.StepKind, str]] = ..., args: _Optional[bytes] = ..., shard: _Optional[int] = ..., dispatch: _Optional[int] = ..., created_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
