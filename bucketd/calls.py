"""Something that makes bucketd's calls: a `grpc.aio.Channel`, or, in one `bucketd serve`, the
server's in-process channel (server/api/local_calls.py). The gateway's routes take a `Caller`,
and both satisfy it as they are: it asks for the three kinds of call bucketd has (a message
or a stream of them in, one answer out; ReadObject's one message in, a stream out) and for
what the routes do with a call: await its answer, or iterate over it."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from google.protobuf.message import Message

Metadata = Sequence[tuple[str, str]]
Serializer = Callable[[Any], bytes]
Deserializer = Callable[[bytes], Any]


class UnaryCall[Request, Response](Protocol):
    """One request message, one answer (grpc.aio's UnaryUnaryMultiCallable satisfies it)."""

    def __call__(
        self,
        request: Request,
        timeout: float | None = None,  # the call's deadline, as gRPC's
        metadata: Metadata | None = None,
    ) -> Awaitable[Response]: ...


class StreamCall[Request, Response](Protocol):
    """A stream of request messages, one answer (grpc.aio's StreamUnaryMultiCallable)."""

    def __call__(
        self,
        request_iterator: AsyncIterator[Request],
        timeout: float | None = None,  # the call's deadline, as gRPC's
        metadata: Metadata | None = None,
    ) -> Awaitable[Response]: ...


class ReadCall[Request, Response](Protocol):
    """One request message, a stream of answers (grpc.aio's UnaryStreamMultiCallable)."""

    def __call__(
        self,
        request: Request,
        timeout: float | None = None,  # the call's deadline, as gRPC's
        metadata: Metadata | None = None,
    ) -> AsyncIterable[Response]: ...


class Caller(Protocol):
    """Makes the calls of a method path (`/bucketd.v1.ObjectService/GetObject`)."""

    def unary_unary(
        self,
        method: str,
        request_serializer: Serializer | None,
        response_deserializer: Deserializer | None,
    ) -> UnaryCall[Any, Any]: ...

    def stream_unary(
        self,
        method: str,
        request_serializer: Serializer | None,
        response_deserializer: Deserializer | None,
    ) -> StreamCall[Any, Any]: ...

    def unary_stream(
        self,
        method: str,
        request_serializer: Serializer | None,
        response_deserializer: Deserializer | None,
    ) -> ReadCall[Any, Any]: ...


def _serialized(message: Message) -> bytes:
    return message.SerializeToString()


def unary[Response: Message](
    caller: Caller, method: str, response: type[Response]
) -> UnaryCall[Message, Response]:
    """A typed unary call of `method` (what a generated stub holds, for any Caller)."""
    return caller.unary_unary(
        method, request_serializer=_serialized, response_deserializer=response.FromString
    )
