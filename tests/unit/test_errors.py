"""The error vocabulary: each ErrorReason of the contract is named by one domain error and
carries its statuses (tests/e2e/test_error_reasons.py follows each one end to end); gRPC's own
statuses, which carry no reason, map to HTTP by the gateway's one table."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from bucketd import error_reasons
from bucketd.error_reasons import ErrorReason
from bucketd.gateway.errors import ERROR_TYPE, HTTP_STATUS
from bucketd.server import errors
from bucketd.server.api.status import error_type, status_code_of, to_rpc_status


def domain_errors() -> dict[ErrorReason.ValueType, type[errors.BucketdError]]:
    """Reason -> the domain error class that names it (in its own body, not by inheritance)."""
    named: dict[ErrorReason.ValueType, type[errors.BucketdError]] = {}
    pending: list[type[errors.BucketdError]] = [errors.BucketdError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if "reason" in vars(kind):
            assert kind.reason not in named, (kind, named[kind.reason])
            named[kind.reason] = kind
    return named


def test_each_reason_is_named_by_one_domain_error_and_has_its_options() -> None:
    assert set(domain_errors()) == set(error_reasons.REASONS)
    for reason in error_reasons.REASONS.values():
        assert reason.grpc_code not in (grpc.StatusCode.OK, grpc.StatusCode.UNKNOWN), reason
        assert 400 <= reason.http_status <= 599 and reason.error_type.endswith("Error"), reason
    assert ErrorReason.ERROR_REASON_UNSPECIFIED not in error_reasons.REASONS


def test_subclasses_inherit_their_reason() -> None:
    assert status_code_of(errors.MongoUnavailable("x")) == grpc.StatusCode.UNAVAILABLE
    assert status_code_of(errors.BucketdError("x")) == grpc.StatusCode.INTERNAL
    assert error_type(errors.InvalidArgument("x")) == "ValidationError"


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
def test_grpc_status_without_a_reason_to_http(code: grpc.StatusCode, http: int) -> None:
    assert HTTP_STATUS[code] == http


def test_unlisted_codes_are_500() -> None:
    assert grpc.StatusCode.INTERNAL not in HTTP_STATUS
    assert grpc.StatusCode.DATA_LOSS not in HTTP_STATUS
    assert ERROR_TYPE[500] == "InternalServerError"
