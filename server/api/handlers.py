"""Re-wrapping gRPC method handlers: how interceptors put code around a call's behaviour."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from grpc import aio

Behavior = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
Wrapper = Callable[[Behavior], Behavior]
# A server-streaming behaviour (ReadObject): an async generator of the answer's messages.
StreamBehavior = Callable[[Any, aio.ServicerContext[Any, Any]], AsyncGenerator[Any]]
AnyContextStreamBehavior = Callable[[Any, Any], AsyncGenerator[Any]]
StreamWrapper = Callable[[StreamBehavior], StreamBehavior]
# A behaviour whatever its context: the in-process channel passes its own (local_calls.py).
AnyContextBehavior = Callable[[Any, Any], Awaitable[Any]]

if TYPE_CHECKING:  # generic in grpc-stubs only, not at run time
    ServerInterceptor = aio.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = aio.ServerInterceptor


def unary_behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> AnyContextBehavior | None:
    """The coroutine that answers a unary-response call (unary-unary or stream-unary), if the
    handler is of those kinds.

    Server-streaming ones (ReadObject, health Watch, reflection) have none: see
    stream_behavior.
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


def stream_behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> StreamBehavior | None:
    """The async generator that answers a unary-stream call, if the handler is of that kind."""
    found = handler.unary_stream
    return None if found is None else cast(StreamBehavior, found)


def wrap_any(
    handler: grpc.RpcMethodHandler[Any, Any], wrapper: Wrapper, stream_wrapper: StreamWrapper
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its behaviour wrapped: unary-response ones by `wrapper`, unary-stream ones
    (bucketd's ReadObject) by `stream_wrapper`; stream-stream ones (reflection) unchanged."""
    behavior = stream_behavior(handler)
    if behavior is None:
        return wrap_unary_response(handler, wrapper)
    return grpc.unary_stream_rpc_method_handler(
        stream_wrapper(behavior),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
