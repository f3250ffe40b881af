"""Domain errors -> gRPC status, with google.rpc.ErrorInfo details: the status, the reason and
the error type are the error's `ErrorReason` and its options (bucketd/error_reasons.py)."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from bucketd import error_reasons, logs
from bucketd.server import errors


def status_code_of(error: errors.BucketdError) -> grpc.StatusCode:
    """The gRPC status its reason ends in."""
    return error_reasons.of(error.reason).grpc_code


def error_type(error: errors.BucketdError) -> str:
    """The reference's name for this failure: a failed batch item's error_type is the envelope
    type the gateway answers for the same error on its own."""
    return error_reasons.of(error.reason).error_type


def _packed(message: Message) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def to_rpc_status(error: errors.BucketdError) -> grpc.Status:
    """A gRPC status whose details carry ErrorInfo(reason, domain, metadata=error.details),
    BadRequest with a FieldViolation per field at fault, and RetryInfo when the error says when to
    retry."""
    reason = error_reasons.of(error.reason)
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=reason.name, domain=error_reasons.DOMAIN, metadata=error.details
            )
        )
    ]
    if error.violations:
        violations = [
            error_details_pb2.BadRequest.FieldViolation(
                field=v.field, description=v.message, reason=v.kind
            )
            for v in error.violations
        ]
        details.append(_packed(error_details_pb2.BadRequest(field_violations=violations)))
    retry_after = getattr(error, "retry_after_seconds", None)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_after * 1e9))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    message = error.public_message
    if message != error.message and (request_id := logs.request_id.get()):
        message = f"{message} (request id {request_id}: the log says more)"
    code = reason.grpc_code.value[0]
    status = status_pb2.Status(code=code, message=message, details=details)
    converted: grpc.Status = rpc_status.to_status(status)
    return converted
