"""bucketd's RPCs called in-process by the gateway of the same `bucketd serve`, through the very
interceptors the gRPC server runs (observe: log line, metrics, error -> status; auth).

Over the loopback gRPC hop each call was serialized, framed, sent, received and parsed again:
for the streaming routes about a quarter of their CPU (every byte of a file), for a cheap call
most of what the gateway added to it. `LocalChannel` answers the two kinds of call the gateway
makes (unary_unary, stream_unary) with the servicers registered on it exactly as on the server
(server/api/registry.py). Everything else behaves as over the wire: a failure is the
AioRpcError the gateway maps (status details included), a request stream that breaks off
cancels the call as gRPC does (the servicer sees CancelledError: a session keeps its bytes),
and the timeout is the call's deadline. Health and reflection stay on the real channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from grpc import aio

from bucketd.server.api.handlers import ServerInterceptor

Metadata = Sequence[tuple[str, str]]
Behavior = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class _CallDetails(grpc.HandlerCallDetails):
    method: str
    invocation_metadata: tuple[tuple[str, str | bytes], ...]


def _failure(code: grpc.StatusCode, details: str, trailing: Any = ()) -> aio.AioRpcError:
    return aio.AioRpcError(code, aio.Metadata(), aio.Metadata(*trailing), details, details)


class _LocalContext:
    """The parts of aio.ServicerContext bucketd's servicers and interceptors use."""

    def __init__(self, metadata: Metadata, timeout: float | None) -> None:
        self._metadata = tuple(metadata)
        loop = asyncio.get_running_loop()
        self._deadline = None if timeout is None else loop.time() + timeout
        self._code: grpc.StatusCode | None = None
        self.client_gone = False

    def invocation_metadata(self) -> Metadata:
        return self._metadata

    async def send_initial_metadata(self, _: Any) -> None:
        return None

    def time_remaining(self) -> float | None:
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - asyncio.get_running_loop().time())

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def cancelled(self) -> bool:
        return self.client_gone

    def done(self) -> bool:
        return self.client_gone

    async def abort(
        self, code: grpc.StatusCode, details: str = "", trailing_metadata: Any = ()
    ) -> None:
        self._code = code
        raise _failure(code, details, trailing_metadata)


class LocalChannel:
    """Registered on like a server (add_*Servicer_to_server), called like a channel."""

    def __init__(self, interceptors: Sequence[ServerInterceptor]) -> None:
        self._interceptors = interceptors
        self._generic: list[grpc.GenericRpcHandler[Any, Any]] = []

    # What the generated add_*Servicer_to_server functions call on a server.
    def add_generic_rpc_handlers(
        self, handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]
    ) -> None:
        self._generic.extend(handlers)

    def add_registered_method_handlers(self, _: str, __: dict[str, Any]) -> None:
        return None  # the generic handlers answer every method already

    async def _handler(self, method: str, metadata: Metadata) -> grpc.RpcMethodHandler[Any, Any]:
        details = _CallDetails(method, tuple(metadata))
        found = next((h for g in self._generic if (h := g.service(details)) is not None), None)
        if found is None:
            raise _failure(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        handler: grpc.RpcMethodHandler[Any, Any] = found
        for interceptor in reversed(self._interceptors):  # the innermost wraps first

            async def same(_: grpc.HandlerCallDetails, h: Any = handler) -> Any:
                return h

            handler = await interceptor.intercept_service(same, details)
        return handler

    async def _invoke(
        self,
        method: str,
        request: Any,
        metadata: Metadata,
        timeout: float | None,  # noqa: ASYNC109  # the call's deadline, as gRPC carries it
    ) -> Any:
        context = _LocalContext(metadata, timeout)
        handler = await self._handler(method, metadata)
        if handler.stream_unary is not None:
            behavior = cast(Behavior, handler.stream_unary)
            request = _cancelling_on_failure(request, context)
        else:
            behavior = cast(Behavior, handler.unary_unary)
        try:
            async with asyncio.timeout(timeout):
                return await behavior(request, context)
        except TimeoutError:
            raise _failure(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def unary_unary(self, method: str, *_: Any, **__: Any) -> Callable[..., Awaitable[Any]]:
        return self._callable(method)

    def stream_unary(self, method: str, *_: Any, **__: Any) -> Callable[..., Awaitable[Any]]:
        return self._callable(method)

    def _callable(self, method: str) -> Callable[..., Awaitable[Any]]:
        async def call(
            request: Any,
            *,
            metadata: Metadata = (),
            timeout: float | None = None,  # noqa: ASYNC109  # the gRPC stubs' own signature
            **_: Any,
        ) -> Any:
            return await self._invoke(method, request, metadata, timeout)

        return call

    def as_channel(self) -> aio.Channel:
        """Typed as what the gateway takes: it calls unary_unary and stream_unary only."""
        return cast(aio.Channel, self)


async def _cancelling_on_failure(
    messages: AsyncIterator[Any], context: _LocalContext
) -> AsyncIterator[Any]:
    """The caller's messages; if producing them fails (the HTTP body broke off, a malformed
    part), the call is cancelled, as gRPC cancels a call whose request iterator raises: the
    caller knows why from its own record of the failure."""
    try:
        async for message in messages:
            yield message
    except Exception:
        context.client_gone = True
        raise asyncio.CancelledError("the request's messages failed") from None
