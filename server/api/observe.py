"""Server interceptor: one structured log line per call, and domain errors -> gRPC status.

Servicers raise server.errors; this is the only place that turns them into a status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from server.api.status import to_rpc_status
from server.errors import BucketdError

log = logging.getLogger("bucketd.rpc")

UnaryBehavior = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
StreamBehavior = Callable[[AsyncIterator[Any], aio.ServicerContext[Any, Any]], Awaitable[Any]]


def _log_call(method: str, code: grpc.StatusCode, started: float) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    log.info("rpc method=%s code=%s duration_ms=%.2f", method, code.name, duration_ms)


def _observe(method: str, behavior: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    async def observed(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        code = grpc.StatusCode.UNKNOWN
        try:
            response = await behavior(request, context)
            code = context.code() or grpc.StatusCode.OK
            return response
        except BucketdError as error:
            status = to_rpc_status(error)
            code = status.code
            await context.abort(status.code, status.details, status.trailing_metadata)
        except aio.AbortError:
            code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except NotImplementedError:
            # The generated base servicers raise it for RPCs whose issue has not landed yet.
            code = grpc.StatusCode.UNIMPLEMENTED
            await context.abort(code, f"{method.lstrip('/')} is not implemented yet")
        except Exception:
            log.exception("unhandled error in %s", method)
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            _log_call(method, code, started)

    return observed


if TYPE_CHECKING:  # generic in grpc-stubs only, not at run time
    _ServerInterceptor = aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = aio.ServerInterceptor


class ObserveInterceptor(_ServerInterceptor):
    """Wraps unary-request handlers (every bucketd RPC, health Check); streams pass through."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _observe(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                _observe(method, handler.stream_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
