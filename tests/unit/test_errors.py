"""Domain errors -> gRPC status (server) and gRPC status -> HTTP (gateway): one table each."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from bucketd.gateway.errors import (
    ERROR_TYPE,
    ERROR_TYPE_BY_REASON,
    HTTP_STATUS,
    HTTP_STATUS_BY_REASON,
)
from bucketd.server import errors
from bucketd.server.api.status import error_type, status_code_of, to_rpc_status


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("x"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.PayloadTooLarge("x"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.NotFound("x"), grpc.StatusCode.NOT_FOUND),
        (errors.AlreadyExists("x"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.FailedPrecondition("x"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.StorageUnavailable("x"), grpc.StatusCode.UNAVAILABLE),
        (errors.BucketdError("x"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_domain_error_has_its_status(
    error: errors.BucketdError, code: grpc.StatusCode
) -> None:
    assert status_code_of(error) == code


def test_rpc_status_carries_error_info() -> None:
    error = errors.NotFound("Bucket not found", details={"resource": "bucket", "id": "b1"})
    status = to_rpc_status(error)
    assert status.code == grpc.StatusCode.NOT_FOUND
    assert status.details == "Bucket not found"
    raw = dict(status.trailing_metadata)["grpc-status-details-bin"]
    decoded = status_pb2.Status.FromString(raw)
    info = error_details_pb2.ErrorInfo()
    assert decoded.details[0].Unpack(info)
    assert info.reason == "NOT_FOUND"
    assert info.domain == "bucketd"
    assert dict(info.metadata) == {"resource": "bucket", "id": "b1"}


@pytest.mark.parametrize(
    ("code", "http"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 422),
        (grpc.StatusCode.FAILED_PRECONDITION, 400),
        (grpc.StatusCode.OUT_OF_RANGE, 400),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.ABORTED, 409),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.CANCELLED, 499),
        (grpc.StatusCode.UNIMPLEMENTED, 501),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    ],
)
def test_grpc_status_to_http(code: grpc.StatusCode, http: int) -> None:
    assert HTTP_STATUS[code] == http


def test_unlisted_codes_are_500() -> None:
    assert grpc.StatusCode.INTERNAL not in HTTP_STATUS
    assert grpc.StatusCode.DATA_LOSS not in HTTP_STATUS


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidArgument("x"),
        errors.OutOfRange("x"),
        errors.OffsetMismatch("x"),
        errors.Aborted("x"),
        errors.PayloadTooLarge("x"),
        errors.Unauthenticated("x"),
        errors.PermissionDenied("x"),
        errors.NotFound("x"),
        errors.AlreadyExists("x"),
        errors.FailedPrecondition("x"),
        errors.StorageUnavailable("x"),
        errors.BucketdError("x"),
    ],
)
def test_batch_error_type_is_the_envelope_type_of_the_same_error(
    error: errors.BucketdError,
) -> None:
    """One vocabulary: a failed batch item says what the envelope would say for it alone."""
    http = HTTP_STATUS_BY_REASON.get(error.reason, HTTP_STATUS.get(status_code_of(error), 500))
    assert error_type(error) == ERROR_TYPE_BY_REASON.get(error.reason, ERROR_TYPE[http])


def test_validation_failures_are_422_validation_errors() -> None:
    assert error_type(errors.InvalidArgument("x")) == "ValidationError"
    assert HTTP_STATUS[grpc.StatusCode.INVALID_ARGUMENT] == 422
