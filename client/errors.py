"""One exception hierarchy for every failed call: a class per gRPC status, bucketd's message,
and the stable `reason` of its ErrorInfo detail (a `bucketd.v1.ErrorReason` value's name without
its prefix: "NOT_FOUND"; bucketd/error_reasons.py lists them with the status each ends in)."""

from __future__ import annotations

from typing import Any, cast

import grpc
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status


class ApiError(Exception):
    """A call bucketd (or the network) refused; `code` is the gRPC status."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(
        self, message: str, *, reason: str = "", metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class OutOfRange(InvalidArgument):
    """A position (an upload offset) is not where bucketd stands: an invalid argument too."""

    code = grpc.StatusCode.OUT_OF_RANGE


class NotFound(ApiError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ApiError):
    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ApiError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ApiError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(ApiError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ApiError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ApiError):
    """bucketd or its stores could not be reached: safe to retry (the client does, with backoff)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ApiError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Internal(ApiError):
    """bucketd failed in a way it did not expect (a bug): its log says more."""

    code = grpc.StatusCode.INTERNAL


class Aborted(ApiError):
    """Another operation holds the resource (a stream still writing the same upload session):
    retrying shortly can succeed; upload_file does."""

    code = grpc.StatusCode.ABORTED


def _subclasses(kind: type[ApiError]) -> list[type[ApiError]]:
    return [found for sub in kind.__subclasses__() for found in (sub, *_subclasses(sub))]


# Each class names its status; ApiError itself answers the statuses no class names.
_BY_CODE = {kind.code: kind for kind in _subclasses(ApiError)}


# What grpcio's asyncio client reports when a streaming call's write fails after its stream
# ended, in place of the status the call ended with (grpc/grpc#36066, open): never bucketd's words.
_WRITE_AFTER_END = "Internal error from Core"


def from_rpc_error(error: aio.AioRpcError) -> ApiError:
    """The exception for a failed call, with ErrorInfo's reason and metadata when sent."""
    if error.code() is grpc.StatusCode.INTERNAL and error.details() == _WRITE_AFTER_END:
        return Unavailable(
            "the stream broke off while sending (its status was lost: grpc/grpc#36066); "
            "retry, or resume the upload"
        )
    kind = _BY_CODE.get(error.code(), ApiError)
    reason, metadata = "", {}
    try:
        status = rpc_status.from_call(cast(grpc.Call, error))
    except ValueError:
        status = None
    for packed in status.details if status else []:
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
    found = kind(error.details() or error.code().name, reason=reason, metadata=metadata)
    if kind is ApiError:
        found.code = error.code()
    return found


def describe(error: BaseException) -> dict[str, Any]:
    """An error as JSON for the CLI's --json output."""
    if isinstance(error, ApiError):
        return {"code": error.code.name, "message": error.message, "reason": error.reason}
    return {"code": type(error).__name__, "message": str(error), "reason": ""}
