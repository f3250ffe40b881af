"""Re-wrapping gRPC method handlers: how interceptors put code around a call's behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from grpc import aio

Behavior = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
Wrapper = Callable[[Behavior], Behavior]

if TYPE_CHECKING:  # generic in grpc-stubs only, not at run time
    ServerInterceptor = aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = aio.ServerInterceptor


def wrap_unary_response(
    handler: grpc.RpcMethodHandler[Any, Any], wrapper: Wrapper
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its unary-unary or stream-unary behaviour wrapped; others unchanged.

    Every bucketd RPC answers one message, so these two kinds cover them all; server-streaming
    ones (health Watch, reflection) pass through.
    """
    # grpc-stubs type behaviours as synchronous; on an aio server they are coroutines.
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            wrapper(cast(Behavior, handler.unary_unary)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            wrapper(cast(Behavior, handler.stream_unary)),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler
