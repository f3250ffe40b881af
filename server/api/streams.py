"""UploadObject and its sessions: proto stream messages <-> the streaming use case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from grpc import aio

from bucketd.chunks import Chunk
from bucketd.server.api import convert, enums
from bucketd.server.api.call_fields import note_bytes_in
from bucketd.server.domain.streams import StreamBlobSpec, StreamChunk, StreamHeader
from bucketd.server.errors import InvalidArgument
from bucketd.v1 import objects_pb2 as pb


def spec_of(blob: pb.UploadBlobHeader) -> StreamBlobSpec:
    return StreamBlobSpec(
        property=blob.property,
        type=enums.spelling(enums.FIELD_TYPE, blob.type),
        filename=blob.filename or None,
        mime_type=blob.mime_type or None,
        expected_size=convert.optional(blob, "expected_size_bytes"),
        expected_sha256=convert.optional(blob, "expected_sha256"),
        expected_crc32c=convert.optional(blob, "expected_crc32c"),
        metadata=convert.to_dict(blob.metadata),
    )


def header_of(message: pb.UploadObjectHeader) -> StreamHeader:
    return StreamHeader(
        bucket_identifier=message.bucket_identifier,
        key_prefix=convert.optional(message, "key_prefix"),
        metadata=convert.to_dict(message.metadata) if message.HasField("metadata") else None,
        skip_duplicates=bool(convert.optional(message, "skip_duplicates")),
        force_remirror=bool(convert.optional(message, "force_remirror")),
        idempotency_key=convert.optional(message, "idempotency_key") or None,
        session_id=message.session_id or None,
        leave_open=message.leave_open,
        blobs=[spec_of(blob) for blob in message.blobs],
    )


async def messages_of(
    requests: AsyncIterator[pb.UploadObjectRequest | Chunk],
    context: aio.ServicerContext[Any, Any],
    *,
    idle_seconds: float,
) -> AsyncIterator[StreamHeader | StreamChunk | StreamBlobSpec]:
    """The stream's messages, failing when none arrives for `idle_seconds`. The end of the
    messages is a half-close only if the call was not cancelled: a client that went away must
    never have its partial stream committed."""
    iterator = aiter(requests)
    while True:
        try:
            async with asyncio.timeout(idle_seconds):
                request = await anext(iterator)
        except StopAsyncIteration:
            for _ in range(3):
                await asyncio.sleep(0)
            if context.cancelled() or context.done():
                raise asyncio.CancelledError("the client cancelled the stream") from None
            return
        except TimeoutError:
            raise InvalidArgument(
                f"no message for {idle_seconds:.0f} seconds: the stream was closed "
                "(BUCKETD_STREAM_IDLE_SECONDS)"
            ) from None
        yield _message_of(request)


def _message_of(
    request: pb.UploadObjectRequest | Chunk,
) -> StreamHeader | StreamChunk | StreamBlobSpec:
    """One message as the use case reads it; its bytes count as the call's bytes in."""
    # A chunk from the gateway of this process, or one read from gRPC without copying its
    # bytes (api/chunk_wire.py); other messages are protobuf's.
    if isinstance(request, Chunk):
        note_bytes_in(len(request.data))
        return StreamChunk(request.blob_index, request.write_offset, request.data)
    kind = request.WhichOneof("message")
    if kind == "chunk":  # read `data` once: each read copies it out of the message
        chunk = request.chunk
        data = chunk.data
        note_bytes_in(len(data))  # ByteSize() would serialize the 1 MiB message once more
        return StreamChunk(chunk.blob_index, chunk.write_offset, data)
    note_bytes_in(request.ByteSize())
    if kind == "header":
        return header_of(request.header)
    if kind == "blob":
        return spec_of(request.blob)
    raise InvalidArgument("each UploadObject message needs a header or a chunk")
