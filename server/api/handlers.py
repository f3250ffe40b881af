"""Re-wrapping gRPC method handlers: how interceptors put code around a call's behaviour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from grpc import aio

Behavior = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
Wrapper = Callable[[Behavior], Behavior]
# A behaviour whatever its context: the in-process channel passes its own (local_calls.py).
AnyContextBehavior = Callable[[Any, Any], Awaitable[Any]]

if TYPE_CHECKING:  # generic in grpc-stubs only, not at run time
    ServerInterceptor = aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = aio.ServerInterceptor


def unary_behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> AnyContextBehavior | None:
    """The coroutine that answers a unary-response call (unary-unary or stream-unary), if the
    handler is of those kinds.

    Every bucketd RPC answers one message, so these two kinds cover them all; server-streaming
    ones (health Watch, reflection) have none.
    """
    found = handler.unary_unary or handler.stream_unary
    # grpc-stubs type behaviours as synchronous; on an aio server they are coroutines.
    return None if found is None else cast(AnyContextBehavior, found)


def wrap_unary_response(
    handler: grpc.RpcMethodHandler[Any, Any], wrapper: Wrapper
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its unary-unary or stream-unary behaviour wrapped; others unchanged."""
    behavior = unary_behavior(handler)
    if behavior is None:
        return handler
    kind = (
        grpc.stream_unary_rpc_method_handler
        if handler.request_streaming
        else grpc.unary_unary_rpc_method_handler
    )
    return kind(
        wrapper(behavior),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
