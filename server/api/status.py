"""The one table from domain errors to gRPC status codes, with google.rpc.ErrorInfo details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from bucketd import logs
from bucketd.server import errors

ERROR_DOMAIN = "bucketd"

STATUS_BY_ERROR: dict[type[errors.BucketdError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.PayloadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
    errors.SourceTooSlow: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_code_of(error: errors.BucketdError) -> grpc.StatusCode:
    """The status of the nearest mapped class; an unmapped subclass falls back to INTERNAL."""
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return grpc.StatusCode.INTERNAL


def _packed(message: Message) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(message)
    return detail


def to_rpc_status(error: errors.BucketdError) -> grpc.Status:
    """A gRPC status whose details carry ErrorInfo(reason, domain, metadata=error.details),
    and BadRequest with a FieldViolation per field at fault."""
    code = status_code_of(error)
    details = [
        _packed(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=ERROR_DOMAIN, metadata=error.details
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
    message = error.public_message
    if message != error.message and (request_id := logs.request_id.get()):
        message = f"{message} (request id {request_id}: the log says more)"
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    converted: grpc.Status = rpc_status.to_status(status)
    return converted


# The reference's Error Guide names each failure (its `error.type`). A batch item's error_type
# uses the same word as the envelope the gateway answers for the same error on its own
# (tests/unit/test_errors.py holds the two tables to each other).
ERROR_TYPE_BY_CODE: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "ValidationError",
    grpc.StatusCode.FAILED_PRECONDITION: "BadRequestError",
    grpc.StatusCode.OUT_OF_RANGE: "BadRequestError",
    grpc.StatusCode.UNAUTHENTICATED: "UnauthorizedError",
    grpc.StatusCode.PERMISSION_DENIED: "ForbiddenError",
    grpc.StatusCode.NOT_FOUND: "NotFoundError",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExistsError",
    grpc.StatusCode.ABORTED: "ConflictError",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "TooManyRequestsError",
    grpc.StatusCode.UNAVAILABLE: "ServiceUnavailableError",
    grpc.StatusCode.DEADLINE_EXCEEDED: "GatewayTimeoutError",
    grpc.StatusCode.INTERNAL: "InternalServerError",
}
ERROR_TYPE_BY_REASON = {
    errors.PayloadTooLarge.reason: "PayloadTooLargeError",
    errors.OffsetMismatch.reason: "UploadOffsetMismatchError",
    errors.NamespaceRequired.reason: "BadRequestError",
}


def error_type(error: errors.BucketdError) -> str:
    """The reference's name for this failure."""
    if error.reason in ERROR_TYPE_BY_REASON:
        return ERROR_TYPE_BY_REASON[error.reason]
    return ERROR_TYPE_BY_CODE[status_code_of(error)]
