"""The one way the gateway calls the server: a method's descriptor picks its multicallable, and the
request's Call (gateway/inputs.py) its metadata and deadline. Every route kind, and every upload
protocol, calls through here."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterable
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from bucketd.calls import Caller
from bucketd.chunks import Chunk
from bucketd.gateway.inputs import Call
from bucketd.v1 import auth_pb2, objects_pb2

# What a client stream carries: messages, and chunks of bytes as they are (bucketd/chunks.py).
Sent = Message | Chunk
_OBJECTS = objects_pb2.DESCRIPTOR.services_by_name["ObjectService"]
UPLOAD_OBJECT = _OBJECTS.methods_by_name["UploadObject"]
START_UPLOAD_SESSION = _OBJECTS.methods_by_name["StartUploadSession"]
GET_UPLOAD_SESSION = _OBJECTS.methods_by_name["GetUploadSession"]
CANCEL_UPLOAD_SESSION = _OBJECTS.methods_by_name["CancelUploadSession"]
AUTHENTICATE = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].methods_by_name["Authenticate"]
# How long a key the server accepted is trusted before a body without asking again (the call
# itself is authenticated anyway: this only spares a round trip), and how many are kept.
KEY_TRUST_SECONDS = 5.0
MAX_TRUSTED_KEYS = 10_000
READ_OBJECT = _OBJECTS.methods_by_name["ReadObject"]


def _serialized(sent: Sent) -> bytes:
    return (sent.message() if isinstance(sent, Chunk) else sent).SerializeToString()


class Calls:
    """The server's methods on one channel (grpc.aio's, or the in-process one of `bucketd
    serve`), each multicallable built once from its descriptor."""

    def __init__(self, channel: Caller) -> None:
        self._channel = channel
        self._callables: dict[str, Any] = {}
        self._trusted: dict[bytes, float] = {}

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

    async def authenticate(self, call: Call) -> None:
        """Refuses a wrong key (the server's AuthService, its one key check) before a route
        reads a body: a caller without a valid key cannot hold a connection by trickling one.
        A key accepted in the last KEY_TRUST_SECONDS is not asked about again."""
        key = dict(call.metadata).get("authorization", "")
        digest = hashlib.sha256(key.encode()).digest()
        now = time.monotonic()
        if key and self._trusted.get(digest, 0.0) > now:
            return
        await self(AUTHENTICATE, auth_pb2.AuthenticateRequest(), call)
        if len(self._trusted) >= MAX_TRUSTED_KEYS:
            self._trusted.clear()
        self._trusted[digest] = now + KEY_TRUST_SECONDS

    def stream(self, method: MethodDescriptor, request: Message, call: Call) -> AsyncIterable[Any]:
        """The answers of a server-streaming method (ReadObject), as they come."""
        answers: AsyncIterable[Any] = self._callable(method)(
            request, metadata=call.metadata, timeout=call.timeout
        )
        return answers
