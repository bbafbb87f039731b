"""A tiny Weft client over grpcio: start, get, watch, result, send_event, cancel, list, history.

Payloads (workflow args, results, event payloads, failure details) are JSON in `bytes` fields;
this module encodes and decodes them, so callers pass and receive plain Python values.
"""

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import grpc

from weft_client.gen.weft.v1 import types_pb2, workflow_service_pb2 as pb, workflow_service_pb2_grpc

FINAL_STATUSES = ("completed", "failed", "canceled")


def encode_payload(value: Any) -> bytes:
    """JSON bytes; None becomes empty bytes (which the API reads as null)."""
    return b"" if value is None else json.dumps(value, separators=(",", ":")).encode("utf-8")


def decode_payload(data: bytes) -> Any:
    return None if not data else json.loads(data.decode("utf-8"))


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return enum.Name(value)[len(prefix):].lower()


def _time(ts: Any) -> Optional[datetime]:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=timezone.utc)


def _failure(f: Any) -> Optional[dict]:
    if not f.name and not f.message:
        return None
    out = {"name": f.name, "message": f.message}
    if f.details:
        out["details"] = decode_payload(f.details)
    return out


@dataclass
class Step:
    seq: int
    name: str
    kind: str
    status: str
    attempt: int
    result: Any
    error: Optional[dict]

    @staticmethod
    def from_proto(s: Any) -> "Step":
        status = _enum_name(types_pb2.StepStatus, s.status, "STEP_STATUS_")
        return Step(
            seq=s.seq,
            name=s.name,
            kind=_enum_name(types_pb2.StepKind, s.kind, "STEP_KIND_"),
            status=status,
            attempt=s.attempt,
            result=decode_payload(s.result) if status == "completed" else None,
            error=_failure(s.error) if s.HasField("error") else None,
        )


@dataclass
class Run:
    id: str
    workflow_name: str
    status: str
    args: Any
    result: Any
    error: Optional[dict]
    created_at: Optional[datetime]
    completed_at: Optional[datetime]
    steps: List[Step] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @staticmethod
    def from_proto(r: Any, steps: Sequence[Any] = ()) -> "Run":
        status = _enum_name(types_pb2.RunStatus, r.status, "RUN_STATUS_")
        return Run(
            id=r.id,
            workflow_name=r.workflow_name,
            status=status,
            args=decode_payload(r.args),
            result=decode_payload(r.result) if status == "completed" else None,
            error=_failure(r.error) if r.HasField("error") else None,
            created_at=_time(r.created_at),
            completed_at=_time(r.completed_at),
            steps=[Step.from_proto(s) for s in steps],
        )


class WeftError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"[{code.name.lower()}] {details}")
        self.code = code
        self.details = details


class WorkflowFailed(Exception):
    def __init__(self, run: Run):
        error = run.error or {"name": "Error", "message": "no error recorded"}
        super().__init__(f"run {run.id} {run.status}: {error['name']}: {error['message']}")
        self.run = run


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except grpc.RpcError as err:
        raise WeftError(err.code(), err.details()) from None


class WeftClient:
    """The journal's public WorkflowService over an insecure channel, e.g. WeftClient("127.0.0.1:7233").

    `token` (default: the WEFT_TOKEN environment variable) goes as `authorization: Bearer <token>`.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:7233",
        metadata: Sequence[Tuple[str, str]] = (),
        timeout: float = 30.0,
        token: Optional[str] = None,
    ):
        self.channel = grpc.insecure_channel(target)
        self.stub = workflow_service_pb2_grpc.WorkflowServiceStub(self.channel)
        token = token if token is not None else os.environ.get("WEFT_TOKEN", "")
        self.metadata = tuple(metadata) + ((("authorization", "Bearer " + token),) if token else ())
        self.timeout = timeout

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "WeftClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _unary(self, method: Any, request: Any) -> Any:
        return _call(method, request, timeout=self.timeout, metadata=self.metadata)

    def start(self, workflow: str, args: Any = None, idempotency_key: str = "", namespace: str = "") -> Tuple[Run, bool]:
        """Starts a run (in `namespace`, default: the token's); returns it and whether the key matched an existing run."""
        req = pb.StartWorkflowRequest(
            workflow_name=workflow, args=encode_payload(args), idempotency_key=idempotency_key, namespace=namespace
        )
        res = self._unary(self.stub.StartWorkflow, req)
        return Run.from_proto(res.run), res.existing

    def start_many(self, starts: Sequence[dict]) -> List[Tuple[Run, bool]]:
        """Starts many runs with StartWorkflows, up to 1,000 per call; results in the order given.

        Each item is a dict with `workflow` and optionally `args`, `idempotency_key`, `namespace`.
        A call is checked whole: one bad start fails it (the error names starts[i]) and starts none
        of its runs; with more than 1,000 items, calls before a failing one have started theirs."""
        out: List[Tuple[Run, bool]] = []
        for at in range(0, len(starts), 1000):
            req = pb.StartWorkflowsRequest(
                starts=[
                    pb.StartWorkflowRequest(
                        workflow_name=item["workflow"],
                        args=encode_payload(item.get("args")),
                        idempotency_key=item.get("idempotency_key", ""),
                        namespace=item.get("namespace", ""),
                    )
                    for item in starts[at : at + 1000]
                ]
            )
            res = self._unary(self.stub.StartWorkflows, req)
            out.extend((Run.from_proto(r.run), r.existing) for r in res.results)
        return out

    def get(self, run_id: str) -> Run:
        return Run.from_proto(self._unary(self.stub.GetWorkflow, pb.GetWorkflowRequest(run_id=run_id)).run)

    def watch(
        self, run_id: str, include_steps: bool = False, timeout: Optional[float] = None, final_only: bool = False
    ) -> Iterator[Run]:
        """The run on every change until it ends (a server stream; the last one has a final status).

        With final_only, only the ended run: the journal reads the run when it ends, not per change."""
        stream = self.stub.WatchWorkflow(
            pb.WatchWorkflowRequest(run_id=run_id, include_steps=include_steps, final_only=final_only),
            timeout=timeout,
            metadata=self.metadata,
        )
        try:
            for msg in stream:
                run = Run.from_proto(msg.run, msg.steps)
                if run.done:
                    # The server ends the stream after the final status: read that end instead of
                    # cancelling (a reset per watch trips HTTP/2 servers' reset limit, GOAWAY).
                    for _ in stream:
                        pass
                    yield run
                    return
                yield run
        except grpc.RpcError as err:
            raise WeftError(err.code(), err.details()) from None
        finally:
            stream.cancel()

    def result(self, run_id: str, timeout: Optional[float] = None) -> Any:
        """Waits for the run's end: its result, or WorkflowFailed when it failed or was canceled.

        A broken stream (UNAVAILABLE) is watched again until `timeout` (seconds, None = forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            try:
                for run in self.watch(run_id, timeout=left, final_only=True):
                    if run.status == "completed":
                        return run.result
                    if run.done:
                        raise WorkflowFailed(run)
            except WeftError as err:
                if err.code != grpc.StatusCode.UNAVAILABLE or (deadline is not None and time.monotonic() >= deadline):
                    raise
            time.sleep(0.2)

    def send_event(self, run_id: str, name: str, payload: Any = None) -> Tuple[str, bool]:
        """Delivers an event; returns its id and whether it resolved a wait that was already journaled."""
        req = pb.SendEventRequest(run_id=run_id, event_name=name, payload=encode_payload(payload))
        res = self._unary(self.stub.SendEvent, req)
        return res.event_id, res.delivered

    def cancel(self, run_id: str, reason: str = "") -> Run:
        res = self._unary(self.stub.CancelWorkflow, pb.CancelWorkflowRequest(run_id=run_id, reason=reason))
        return Run.from_proto(res.run)

    def list(
        self, workflow: str = "", statuses: Sequence[str] = (), page_size: int = 0, page_token: str = ""
    ) -> Tuple[List[Run], str]:
        """One page, newest first; returns the runs and the next page's token ("" on the last page)."""
        req = pb.ListWorkflowsRequest(
            workflow_name=workflow,
            statuses=[types_pb2.RunStatus.Value(f"RUN_STATUS_{s.upper()}") for s in statuses],
            page_size=page_size,
            page_token=page_token,
        )
        res = self._unary(self.stub.ListWorkflows, req)
        return [Run.from_proto(r) for r in res.runs], res.next_page_token

    def history(self, run_id: str) -> Tuple[Run, List[dict]]:
        """The run with its steps, and its events ({id, name, payload, consumed_by_seq})."""
        res = self._unary(self.stub.GetHistory, pb.GetHistoryRequest(run_id=run_id))
        events = [
            {"id": e.id, "name": e.name, "payload": decode_payload(e.payload), "consumed_by_seq": e.consumed_by_seq or None}
            for e in res.events
        ]
        return Run.from_proto(res.run, res.steps), events

    def health(self, service: str = "") -> str:
        """The grpc.health.v1 status of the journal ("SERVING", ...)."""
        from weft_client.gen.grpc.health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(self.channel)
        res = _call(stub.Check, health_pb2.HealthCheckRequest(service=service), timeout=self.timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(res.status)
