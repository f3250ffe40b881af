"""Server interceptor: one structured log line and metrics per call, and domain errors ->
gRPC status.

Servicers raise server.errors; this is the only place that turns them into a status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
from google.protobuf.message import Message
from grpc import aio

from bucketd import logs, metrics
from bucketd.drain import SHUTTING_DOWN, Drain
from bucketd.server.api.auth import PROTECTED_PREFIX
from bucketd.server.api.call_fields import CallFields, open_call
from bucketd.server.api.handlers import Behavior, ServerInterceptor, StreamBehavior, wrap_any
from bucketd.server.api.status import to_rpc_status
from bucketd.server.domain.deadlines import past_deadline, set_call_deadline
from bucketd.server.errors import BucketdError

log = logging.getLogger("bucketd.rpc")

DEADLINE_PASSED = "Deadline Exceeded: the call's deadline passed before it finished"


def _request_id(context: aio.ServicerContext[Any, Any]) -> str:
    """The caller's X-Request-Id (the gateway forwards it), else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == logs.REQUEST_ID_HEADER:
            return logs.accepted_request_id(value if isinstance(value, str) else value.decode())
    return logs.new_request_id()


def _log_call(
    method: str, code: grpc.StatusCode, started: float, fields: CallFields, error: str | None
) -> None:
    seconds = time.perf_counter() - started
    metrics.RPCS.labels(method, code.name).inc()
    metrics.RPC_SECONDS.labels(method).observe(seconds)
    level = logging.WARNING if code in _SERVER_FAULTS else logging.INFO
    log.log(
        level,
        "rpc",
        extra={
            "request_id": logs.request_id.get(),
            "rpc": method,
            "code": code.name,
            "duration_ms": round(seconds * 1000, 2),
            "organization_id": fields.organization_id,
            "namespace_id": fields.namespace_id,
            "bytes_in": fields.bytes_in or None,
            "error": error,
        },
    )


_SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN}


def _observe(method: str, behavior: Behavior, drain: Drain) -> Behavior:
    refusable = method.startswith(PROTECTED_PREFIX)  # health checks answer NOT_SERVING instead

    async def observed(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        if refusable and drain.draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
        with drain.track():
            return await _observed(method, behavior, drain, request, context)

    return observed


async def _opened(request: Any, context: aio.ServicerContext[Any, Any]) -> CallFields:
    """The call's request id (logged, and answered as a header), fields and deadline."""
    request_id = _request_id(context)
    logs.request_id.set(request_id)
    await context.send_initial_metadata(((logs.REQUEST_ID_HEADER, request_id),))
    fields = open_call()
    if isinstance(request, Message):
        fields.bytes_in = request.ByteSize()
    set_call_deadline(context.time_remaining())
    return fields


class _Outcome:
    """What an observed call ended with, for its log line."""

    def __init__(self) -> None:
        self.code, self.error = grpc.StatusCode.UNKNOWN, cast(str | None, None)


@contextlib.asynccontextmanager
async def _observing(
    method: str, drain: Drain, request: Any, context: aio.ServicerContext[Any, Any]
) -> AsyncIterator[None]:
    """Around one call (unary, or a whole answer stream): its request id, fields, log line and
    metrics; a domain error becomes its status."""
    started = time.perf_counter()
    fields = await _opened(request, context)
    done = _Outcome()
    try:
        yield
        done.code = context.code() or grpc.StatusCode.OK
    except BucketdError as failure:
        if past_deadline():  # a store's limit ran out with the call's: say which (gRPC's words)
            done.code, done.error = grpc.StatusCode.DEADLINE_EXCEEDED, failure.message
            await context.abort(done.code, DEADLINE_PASSED)
        status = to_rpc_status(failure)
        done.code, done.error = status.code, failure.message
        await context.abort(status.code, status.details, status.trailing_metadata)
    except aio.AbortError:
        done.code = context.code() or grpc.StatusCode.UNKNOWN
        raise
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not drain.stopping or current is None:
            done.code, done.error = grpc.StatusCode.CANCELLED, "the call was cancelled"
            raise
        current.uncancel()  # the shutdown stopped it: say so, retryably
        done.code, done.error = grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN
        await context.abort(done.code, SHUTTING_DOWN)
    except Exception as failure:
        log.exception("unhandled error in %s", method)  # the details go to the log only
        done.code, done.error = grpc.StatusCode.INTERNAL, type(failure).__name__
        await context.abort(done.code, "internal error: the server logged what went wrong")
    finally:
        _log_call(method, done.code, started, fields, done.error)


async def _observed(
    method: str,
    behavior: Behavior,
    drain: Drain,
    request: Any,
    context: aio.ServicerContext[Any, Any],
) -> Any:
    async with _observing(method, drain, request, context):
        return await behavior(request, context)
    raise AssertionError("unreachable: _observing re-raises or aborts")  # pragma: no cover


def _observe_stream(method: str, behavior: StreamBehavior, drain: Drain) -> StreamBehavior:
    """`_observe` for an answer stream (ReadObject): one log line when the stream ends."""

    async def observed(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any]:
        if drain.draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)
        with drain.track():
            async with _observing(method, drain, request, context):
                async for message in behavior(request, context):
                    yield message

    return observed


class ObserveInterceptor(ServerInterceptor):
    """Wraps every unary-response handler (every bucketd RPC, health Check); while `drain`
    drains, new bucketd calls are refused with UNAVAILABLE."""

    def __init__(self, drain: Drain) -> None:
        self._drain = drain

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_stream is not None and not method.startswith(PROTECTED_PREFIX):
            return handler  # health Watch
        return wrap_any(
            handler,
            lambda behavior: _observe(method, behavior, self._drain),
            lambda behavior: _observe_stream(method, behavior, self._drain),
        )
