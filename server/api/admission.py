"""Admission and rate limits around the calls, after authentication (the organization and the
key are known): an upload takes a slot of server/services/admission.py for as long as it runs
(UploadObject streams, resumable appends included, and creates that carry inline bytes or a
URL to mirror), and every call spends a token of its key's rate limit when one is set, ReadObject
(and so the HTTP content route) included: its token is spent before the first message. Reads
take no slot: each holds a slice or two whatever the blob's size or the reader's speed
(docs/operating.md, "Memory"). HTTP and gRPC calls go through here alike: the gateway's calls
are the server's."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from bucketd.server.api.auth import PROTECTED_PREFIX, current_caller
from bucketd.server.api.handlers import Behavior, ServerInterceptor, StreamBehavior, wrap_any
from bucketd.server.services.admission import UploadSlots
from bucketd.server.services.rate_limits import RateLimits
from bucketd.v1 import objects_pb2

_OBJECTS = "/bucketd.v1.ObjectService/"
STREAMED = {_OBJECTS + "UploadObject"}
# Creates whose blobs may carry bytes: they hold a slot when one does.
CREATES = {_OBJECTS + "CreateObject", _OBJECTS + "CreateObjectsBatch"}
# The gateway's key check before a body (gateway/calls.py): the request it precedes is counted.
AUTHENTICATE = "/bucketd.v1.AuthService/Authenticate"

Continuation = Callable[
    [grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any]"]
]  # the handler's generic parameters exist in grpc-stubs only


# The kinds of a blob's `data` that may hold many bytes (server/domain/blob_data.py): a string
# (base64, a data URI, a URL to mirror), an object (`{"base64": …}`, `{"url": …}`, `{"text":
# …}`, or any JSON stored as the blob's bytes) or a list. A number, a bool or null stays small;
# a presigned upload is named by `upload_id`, not `data`.
BYTES_KINDS = frozenset({"string_value", "struct_value", "list_value"})


def carries_bytes(request: Any) -> bool:
    """Whether a create holds a blob whose data may be many bytes to write."""
    objects = (
        request.objects if isinstance(request, objects_pb2.CreateObjectsBatchRequest) else [request]
    )
    return any(
        blob.data.WhichOneof("kind") in BYTES_KINDS for item in objects for blob in item.blobs
    )


class AdmissionInterceptor(ServerInterceptor):
    """Uploads take a slot (or are refused at once); every call spends its key's token."""

    def __init__(self, slots: UploadSlots, rate_limits: RateLimits | None) -> None:
        self._slots = slots
        self._rate_limits = rate_limits

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not method.startswith(PROTECTED_PREFIX):
            return handler
        upload = method in STREAMED or method in CREATES
        if not upload and (self._rate_limits is None or method == AUTHENTICATE):
            return handler
        return wrap_any(handler, lambda behavior: self._admitted(behavior, method), self._limited)

    def _admitted(self, behavior: Behavior, method: str) -> Behavior:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            principal = current_caller().principal
            if self._rate_limits is not None:
                self._rate_limits.take(principal.key_id)
            if method in STREAMED or (method in CREATES and carries_bytes(request)):
                with self._slots.slot(principal.organization_id):
                    return await behavior(request, context)
            return await behavior(request, context)

        return call

    def _limited(self, behavior: StreamBehavior) -> StreamBehavior:
        """A server stream (ReadObject) spends its token before its first message."""

        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncGenerator[Any]:
            if self._rate_limits is not None:
                self._rate_limits.take(current_caller().principal.key_id)
            async with contextlib.aclosing(behavior(request, context)) as messages:
                async for message in messages:
                    yield message

        return call
