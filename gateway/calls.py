"""The one way the gateway calls the server: a method's descriptor picks its multicallable, and the
request's Call (gateway/inputs.py) its metadata and deadline. Every route kind, and every upload
protocol, calls through here."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from bucketd.calls import Caller
from bucketd.chunks import Chunk
from bucketd.gateway.inputs import Call
from bucketd.v1 import objects_pb2

# What a client stream carries: messages, and chunks of bytes as they are (bucketd/chunks.py).
Sent = Message | Chunk
_OBJECTS = objects_pb2.DESCRIPTOR.services_by_name["ObjectService"]
UPLOAD_OBJECT = _OBJECTS.methods_by_name["UploadObject"]
START_UPLOAD_SESSION = _OBJECTS.methods_by_name["StartUploadSession"]
GET_UPLOAD_SESSION = _OBJECTS.methods_by_name["GetUploadSession"]
CANCEL_UPLOAD_SESSION = _OBJECTS.methods_by_name["CancelUploadSession"]
READ_OBJECT = _OBJECTS.methods_by_name["ReadObject"]


def _serialized(sent: Sent) -> bytes:
    return (sent.message() if isinstance(sent, Chunk) else sent).SerializeToString()


class Calls:
    """The server's methods on one channel (grpc.aio's, or the in-process one of `bucketd
    serve`), each multicallable built once from its descriptor."""

    def __init__(self, channel: Caller) -> None:
        self._channel = channel
        self._callables: dict[str, Any] = {}

    def _callable(self, method: MethodDescriptor) -> Any:
        if method.full_name not in self._callables:
            path = f"/{method.containing_service.full_name}/{method.name}"
            response = message_factory.GetMessageClass(method.output_type)
            kind: Any = self._channel.unary_unary
            if method.client_streaming:
                kind = self._channel.stream_unary
            elif method.server_streaming:
                kind = self._channel.unary_stream
            self._callables[method.full_name] = kind(
                path, request_serializer=_serialized, response_deserializer=response.FromString
            )
        return self._callables[method.full_name]

    async def __call__(self, method: MethodDescriptor, request: Any, call: Call) -> Any:
        """`request`: the message, or for a client stream an async iterator of what it sends."""
        return await self._callable(method)(request, metadata=call.metadata, timeout=call.timeout)

    def stream(self, method: MethodDescriptor, request: Message, call: Call) -> AsyncIterable[Any]:
        """The answers of a server-streaming method (ReadObject), as they come."""
        answers: AsyncIterable[Any] = self._callable(method)(
            request, metadata=call.metadata, timeout=call.timeout
        )
        return answers
