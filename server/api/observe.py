"""Server interceptor: one structured log line per call, and domain errors -> gRPC status.

Servicers raise server.errors; this is the only place that turns them into a status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from bucketd.server.api.handlers import Behavior, ServerInterceptor, wrap_unary_response
from bucketd.server.api.status import to_rpc_status
from bucketd.server.domain.deadlines import set_call_deadline
from bucketd.server.errors import BucketdError

log = logging.getLogger("bucketd.rpc")


def _log_call(method: str, code: grpc.StatusCode, started: float) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    log.info("rpc method=%s code=%s duration_ms=%.2f", method, code.name, duration_ms)


def _observe(method: str, behavior: Behavior) -> Behavior:
    async def observed(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        started = time.perf_counter()
        set_call_deadline(context.time_remaining())
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
            log.exception("unhandled error in %s", method)  # the details go to the log only
            code = grpc.StatusCode.INTERNAL
            await context.abort(code, "internal error: the server logged what went wrong")
        finally:
            _log_call(method, code, started)

    return observed


class ObserveInterceptor(ServerInterceptor):
    """Wraps every unary-response handler (every bucketd RPC, health Check)."""

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
        return wrap_unary_response(handler, lambda behavior: _observe(method, behavior))
