"""bucketd's RPCs called in-process by the gateway of the same `bucketd serve`, through the very
interceptors the gRPC server runs (observe: log line, metrics, error -> status; auth).

Over the loopback gRPC hop each call was serialized, framed, sent, received and parsed again:
for the streaming routes about a quarter of their CPU (every byte of a file), for a cheap call
most of what the gateway added to it. `LocalChannel` makes the kinds of call the gateway makes
(unary_unary, stream_unary, unary_stream: it is a `bucketd.calls.Caller`, as a grpc.aio.Channel is),
answered by the very handlers the server registers (server/api/registry.py). Everything else
behaves as over the wire: a failure is the AioRpcError the gateway maps (status details
included), a request stream that breaks off cancels the call as gRPC does (the servicer sees
CancelledError: a session keeps its bytes), and the timeout is the call's deadline. Health and
reflection stay on the real channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
from grpc import aio

from bucketd.calls import Deserializer, Metadata, ReadCall, Serializer, StreamCall, UnaryCall
from bucketd.server.api.handlers import (
    AnyContextBehavior,
    AnyContextStreamBehavior,
    ServerInterceptor,
    stream_behavior,
    unary_behavior,
)
from bucketd.server.api.registry import Handler, Handlers


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
        self.deadline = None if timeout is None else loop.time() + timeout
        self._code: grpc.StatusCode | None = None
        self.client_gone = False

    def invocation_metadata(self) -> Metadata:
        return self._metadata

    async def send_initial_metadata(self, _: Any) -> None:
        return None

    def time_remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

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
    """Makes bucketd's calls (a `Caller`, as a grpc.aio.Channel is one) by answering them with
    the server's own handlers, through the server's own interceptors."""

    def __init__(self, interceptors: Sequence[ServerInterceptor], handlers: Handlers) -> None:
        self._interceptors = interceptors
        self._handlers = handlers

    async def _handler(self, method: str, metadata: Metadata) -> Handler:
        found = self._handlers.find(method)
        if found is None:
            raise _failure(grpc.StatusCode.UNIMPLEMENTED, f"Method not found: {method}")
        details = _CallDetails(method, tuple(metadata))
        handler = found
        for interceptor in reversed(self._interceptors):  # the innermost wraps first

            async def same(_: grpc.HandlerCallDetails, h: Handler = handler) -> Handler:
                return h

            handler = await interceptor.intercept_service(same, details)
        return handler

    async def _behavior(self, method: str, metadata: Metadata) -> AnyContextBehavior:
        behavior = unary_behavior(await self._handler(method, metadata))
        assert behavior is not None  # the unary-response methods are asked for as such
        return behavior

    async def _invoke(
        self,
        method: str,
        request: Any,
        metadata: Metadata | None,
        timeout: float | None,  # noqa: ASYNC109  # the call's deadline, as gRPC carries it
        *,
        streaming: bool = False,
    ) -> Any:
        context = _LocalContext(metadata or (), timeout)
        behavior = await self._behavior(method, context.invocation_metadata())
        if streaming:
            request = _cancelling_on_failure(request, context)
        try:
            async with asyncio.timeout(timeout):
                return await behavior(request, context)
        except TimeoutError:
            raise _failure(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None

    def unary_unary(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> UnaryCall[Any, Any]:
        """The messages are passed as they are: nothing is serialized in-process."""

        async def call(
            request: Any,
            timeout: float | None = None,  # noqa: ASYNC109  # the gRPC stubs' own signature
            metadata: Metadata | None = None,
        ) -> Any:
            return await self._invoke(method, request, metadata, timeout)

        return call

    def stream_unary(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> StreamCall[Any, Any]:
        async def call(
            request_iterator: AsyncIterator[Any],
            timeout: float | None = None,  # noqa: ASYNC109  # the gRPC stubs' own signature
            metadata: Metadata | None = None,
        ) -> Any:
            return await self._invoke(method, request_iterator, metadata, timeout, streaming=True)

        return call

    def unary_stream(
        self,
        method: str,
        request_serializer: Serializer | None = None,
        response_deserializer: Deserializer | None = None,
    ) -> ReadCall[Any, Any]:
        def call(
            request: Any,
            timeout: float | None = None,  # the gRPC stubs' own signature
            metadata: Metadata | None = None,
        ) -> AsyncIterator[Any]:
            return self._stream(method, request, metadata, timeout)

        return call

    async def _stream(
        self,
        method: str,
        request: Any,
        metadata: Metadata | None,
        timeout: float | None,  # noqa: ASYNC109  # the call's deadline, as gRPC carries it
    ) -> AsyncIterator[Any]:
        """The answer's messages; the deadline bounds the wait for each one (never the
        caller's own work between them), and closing this iterator closes the servicer's, as a
        cancelled gRPC call does."""
        context = _LocalContext(metadata or (), timeout)
        found = stream_behavior(await self._handler(method, context.invocation_metadata()))
        assert found is not None  # asked for as a unary-stream method
        behavior = cast(AnyContextStreamBehavior, found)
        deadline = context.deadline
        try:
            async with contextlib.aclosing(behavior(request, context)) as messages:
                while True:
                    try:
                        async with asyncio.timeout_at(deadline):
                            message = await anext(messages)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        raise _failure(
                            grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"
                        ) from None
                    yield message
        finally:
            context.client_gone = True


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
