"""Weft's Python client: generated grpcio stubs (weft_client.gen) and a tiny client over them."""

from weft_client.client import (
    FINAL_STATUSES,
    Run,
    Step,
    WeftClient,
    WeftError,
    WorkflowFailed,
    decode_payload,
    encode_payload,
)

__all__ = [
    "FINAL_STATUSES",
    "Run",
    "Step",
    "WeftClient",
    "WeftError",
    "WorkflowFailed",
    "decode_payload",
    "encode_payload",
]
