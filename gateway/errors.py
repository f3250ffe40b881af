"""Failed calls -> the reference's error envelope (section 1.4): a reason's HTTP status and
error type come from the contract's ErrorReason (bucketd/error_reasons.py)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any, cast

import grpc
from aiohttp import web
from google.rpc import error_details_pb2
from grpc import aio
from grpc_status import rpc_status

from bucketd import error_reasons, logs
from bucketd.error_reasons import ErrorReason

log = logging.getLogger("bucketd.http")

# google.rpc.Code -> HTTP, as google.rpc.Code's documentation and grpc-gateway map them: only for
# a status without bucketd's ErrorInfo, which gRPC itself reports (the server unreachable, a
# deadline, an unknown method, a message over gRPC's size limit). bucketd's own failures carry
# a reason, and the reason's (http_status) answers for them.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}

# error.type values of the reference's Error Guide, by HTTP status: for the gateway's own answers
# (a refused route, header or body) and a status without a reason.
ERROR_TYPE: dict[int, str] = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    408: "RequestTimeoutError",
    409: "AlreadyExistsError",
    410: "GoneError",
    413: "PayloadTooLargeError",
    414: "URITooLongError",
    415: "UnsupportedMediaTypeError",
    422: "ValidationError",
    429: "TooManyRequestsError",
    431: "RequestHeaderFieldsTooLargeError",
    499: "ClientClosedRequestError",
    500: "InternalServerError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def envelope(
    status: int,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    error_type: str | None = None,
) -> web.Response:
    """{"success": false, "status": N, "error": {"message", "type", "details"}}; the type is
    the reason's when a reason is known, else the status's."""
    kind = error_type or ERROR_TYPE.get(
        status, "InternalServerError" if status >= 500 else "BadRequestError"
    )
    body = {
        "success": False,
        "status": status,
        "error": {
            "message": message,
            "type": kind,
            "details": details,
        },
    }
    return web.json_response(body, status=status, headers=headers)


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def location(field: str, source: str = "body") -> list[str | int]:
    """`objects[2].blobs[0].data` -> ["body", "objects", 2, "blobs", 0, "data"] (FastAPI's form;
    `source` is "body", "query" or "path")."""
    parts: list[str | int] = [source]
    for name, index in _PATH_PART.findall(field):
        parts.append(int(index) if index else name)
    return parts


def validation_error(field: str, message: str, kind: str, source: str = "body") -> dict[str, Any]:
    """One item of details.validation_errors, as the Error Guide shows them."""
    return {"type": kind, "location": location(field, source), "message": message}


class CallFailed(Exception):
    """A failed gRPC call whose error answer carries headers of its own (an upload's Location),
    and names some fields otherwise over HTTP (`rest_names`: see `from_rpc_error`)."""

    def __init__(
        self,
        error: aio.AioRpcError,
        headers: dict[str, str],
        rest_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error.details())
        self.error = error
        self.headers = headers
        self.rest_names = rest_names or {}


def _status_details(error: aio.AioRpcError) -> list[Any]:
    try:
        status = rpc_status.from_call(cast(grpc.Call, error))
    except ValueError:  # inconsistent status details: ignore them, keep code and message
        return []
    return list(status.details) if status else []


def error_info(error: aio.AioRpcError) -> tuple[ErrorReason.ValueType, dict[str, str]]:
    """The failed call's ErrorInfo: its reason and metadata (UNSPECIFIED and {} without one)."""
    for packed in _status_details(error):
        info = error_details_pb2.ErrorInfo()
        if packed.Unpack(info) and (known := error_reasons.named(info.reason)):
            return known.number, dict(info.metadata)
    return ErrorReason.ERROR_REASON_UNSPECIFIED, {}


# Failures gRPC itself reports (no ErrorInfo from bucketd).
_TRANSPORT_FAILURES = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}


def _public(error: aio.AioRpcError, has_info: bool) -> str:
    """The message a client reads. A failure without bucketd's ErrorInfo comes from gRPC itself
    (the server unreachable, a broken connection): its words name addresses and are for the
    log, joined to the request id."""
    message = error.details() or error.code().name
    if has_info or error.code() not in _TRANSPORT_FAILURES:
        return message
    request_id = logs.request_id.get()
    log.warning("call to the gRPC server failed: %s: %s", error.code().name, message)
    return "the bucketd server is unavailable right now: retry shortly" + (
        f" (request id {request_id}: the log says more)" if request_id else ""
    )


def _respelled(message: str, field: str, rest_names: Mapping[str, str]) -> tuple[str, str]:
    """A message about `field` (which it starts with) and the field, as HTTP spells them
    (`rest_names`: proto path -> REST name, e.g. a stream's chunk.write_offset -> the
    Upload-Offset header, where the REST body's JSON path is not the proto's)."""
    rest = rest_names.get(field)
    if rest is None:
        return message, field
    if message.startswith(field):
        message = rest + message.removeprefix(field)
    return message, rest


def _violation(
    violation: error_details_pb2.BadRequest.FieldViolation, rest_names: Mapping[str, str]
) -> dict[str, Any]:
    text, field = _respelled(violation.description, violation.field, rest_names)
    source = "header" if field in rest_names.values() else "body"
    return validation_error(field, text, violation.reason or "value_error", source)


def from_rpc_error(
    error: aio.AioRpcError, rest_names: Mapping[str, str] | None = None
) -> web.Response:
    """The envelope for a failed call: status and type from ErrorInfo's reason (else from the
    gRPC status), details from ErrorInfo, validation_errors from BadRequest's field
    violations (the fields `rest_names` maps are named as HTTP names them), and Retry-After
    (whole seconds, rounded up) from RetryInfo."""
    details: dict[str, Any] = {}
    headers: dict[str, str] = {}
    rest_names = rest_names or {}
    has_info, reason = False, None
    for packed in _status_details(error):
        info, bad_request = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        if packed.Unpack(retry):
            seconds = retry.retry_delay.ToNanoseconds() / 1e9
            headers["Retry-After"] = str(max(1, math.ceil(seconds)))
        elif packed.Unpack(info):
            has_info, reason = True, error_reasons.named(info.reason)
            details = {"reason": info.reason, **dict(info.metadata), **details}
        elif packed.Unpack(bad_request):
            details["validation_errors"] = [
                _violation(v, rest_names) for v in bad_request.field_violations
            ]
    message = _public(error, has_info=has_info)
    if isinstance(field := details.get("field"), str):
        message, details["field"] = _respelled(message, field, rest_names)
    if reason is None:
        status = HTTP_STATUS.get(error.code(), 500)
        return envelope(status, message, details=details or None, headers=headers or None)
    return envelope(
        reason.http_status,
        message,
        details=details or None,
        headers=headers or None,
        error_type=reason.error_type,
    )
