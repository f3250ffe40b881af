"""Resumable uploads over plain HTTP, as draft-ietf-httpbis-resumable-upload (-09/-10) specifies.

A raw-body `POST …/objects/upload` that carries `Upload-Complete` starts an upload session (the
one gRPC's StartUploadSession opens: one store, one lease, one expiry, one janitor) and answers
its **upload resource**, `…/objects/upload/{session_id}`, in a `104 (Upload Resumption
Supported)` interim response and in `Location`. On that resource, `HEAD` answers the offset,
`PATCH` (`application/partial-upload`) appends from it and, with `Upload-Complete: ?1`,
finishes the object, and `DELETE` cancels. A broken request keeps what reached S3.

The offset is what S3 holds in whole parts (8 MiB): bytes after the last part boundary are not
buffered across requests, so the offset never promises bytes a crash would lose. An append
that ends the request early or is not a multiple of the part size leaves its tail to be sent
again: take `Upload-Offset` from each answer (`min-append-size` in `Upload-Limit` says how much
an append must carry to advance it).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from grpc import aio

from bucketd.codec import MarshalError, to_json
from bucketd.gateway.errors import CallFailed, envelope
from bucketd.gateway.inputs import Call
from bucketd.gateway.settings import GatewaySettings
from bucketd.gateway.streams import (
    UPLOAD_COMPLETE,
    UPLOAD_LENGTH,
    chunk,
    header_parameter,
)
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc

RESOURCE = "/v1/buckets/{bucket_identifier}/objects/upload/{session_id}"
PARTIAL_UPLOAD = "application/partial-upload"
EXPOSED = "Location, Upload-Offset, Upload-Complete, Upload-Length, Upload-Limit"


class BadUploadHeader(MarshalError):
    """A resumable-upload header field that is missing, malformed or inconsistent: 400."""


def structured_boolean(request: web.Request, name: str) -> bool:
    value = request.headers.get(name, "").strip()
    if value not in {"?0", "?1"}:
        raise BadUploadHeader(f"{name} must be ?1 (true) or ?0 (false), as a structured boolean")
    return value == "?1"


def structured_integer(request: web.Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 15:
        raise BadUploadHeader(f"{name} must be a non-negative integer (a byte count)")
    return int(value)


def _limit_header(limits: pb.UploadSessionLimits, expires_at: datetime) -> str:
    remaining = max(0, math.floor((expires_at - datetime.now(UTC)).total_seconds()))
    return (
        f"max-size={limits.max_size_bytes}, min-append-size={limits.part_size_bytes}, "
        f"max-age={remaining}"
    )


async def _append_messages(
    request: web.Request, session_id: str, offset: int, *, leave_open: bool, chunk_bytes: int
) -> AsyncIterator[pb.UploadObjectRequest]:
    header = pb.UploadObjectHeader(session_id=session_id, leave_open=leave_open)
    yield pb.UploadObjectRequest(header=header)
    async for data in request.content.iter_chunked(chunk_bytes):
        yield chunk(0, offset, data)
        offset += len(data)


class ResumableUploads:
    """The upload resource's methods, and the creating POST's resumable path."""

    def __init__(self, channel: aio.Channel, settings: GatewaySettings) -> None:
        self._stub = objects_pb2_grpc.ObjectServiceStub(channel)
        self._settings = settings

    def _call(self, request: web.Request, *, stream: bool = False) -> Call:
        return Call.of(request, self._settings, stream=stream)

    async def create(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> web.StreamResponse:
        """A `POST …/objects/upload` with `Upload-Complete`: the session first, then its bytes."""
        complete = structured_boolean(request, "Upload-Complete")
        length = structured_integer(request, "Upload-Length")
        if complete and request.content_length is not None:
            if length is not None and length != request.content_length:
                raise BadUploadHeader("Upload-Length and Content-Length disagree")
            length = request.content_length
        if length is not None:
            header.blobs[0].expected_size_bytes = length
        call = self._call(request)
        started = await self._stub.StartUploadSession(
            pb.StartUploadSessionRequest(header=header),
            metadata=call.metadata,
            timeout=call.timeout,
        )
        bucket = request.match_info["bucket_identifier"]
        location = f"/v1/buckets/{bucket}/objects/upload/{started.session_id}"
        limit = _limit_header(started.limits, started.expires_at.ToDatetime(UTC))
        await _interim_104(request, location, limit)
        return await self._append(request, started.session_id, 0, complete, location, created=True)

    async def options(self, _: web.Request) -> web.StreamResponse:
        """The route supports resumable uploads (the draft's discovery by OPTIONS)."""
        return web.Response(
            status=204, headers={"Accept-Patch": PARTIAL_UPLOAD, "Allow": "POST, OPTIONS"}
        )

    async def head(self, request: web.Request) -> web.StreamResponse:
        status = await self._status(request)
        blob = status.blobs[0]
        headers = {
            "Upload-Offset": str(blob.persisted_size),
            "Upload-Complete": "?1" if status.complete else "?0",
            "Cache-Control": "no-store",
        }
        if status.complete:
            headers["Location"] = _object_location(request, status.object_id)
        else:
            headers["Upload-Limit"] = _limit_header(
                status.limits, status.expires_at.ToDatetime(UTC)
            )
        if blob.HasField("expected_size_bytes"):
            headers["Upload-Length"] = str(blob.expected_size_bytes)
        return web.Response(status=204, headers=headers)

    async def patch(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != PARTIAL_UPLOAD:
            return envelope(
                415, f"Append to an upload resource with Content-Type: {PARTIAL_UPLOAD}"
            )
        offset = structured_integer(request, "Upload-Offset")
        if offset is None:
            raise BadUploadHeader("Upload-Offset is required: the offset HEAD answered")
        complete = structured_boolean(request, "Upload-Complete")
        status = await self._status(request)
        blob = status.blobs[0]
        if status.complete:
            return _completed(request, status.object_id)
        if offset != blob.persisted_size:
            return envelope(
                409,
                f"Upload-Offset {offset} is not where the upload stands: "
                f"resume from {blob.persisted_size}",
                details={"reason": "MISMATCHING_UPLOAD_OFFSET", "offset": blob.persisted_size},
                headers={"Upload-Offset": str(blob.persisted_size), "Upload-Complete": "?0"},
            )
        length = structured_integer(request, "Upload-Length")
        announced = blob.expected_size_bytes if blob.HasField("expected_size_bytes") else None
        if complete and request.content_length is not None:
            total = offset + request.content_length
            length = total if length is None else length
            if length != total:
                raise BadUploadHeader("Upload-Length disagrees with Upload-Offset + Content-Length")
        if length is not None and announced is not None and length != announced:
            raise BadUploadHeader(f"Upload-Length {length} differs from the announced {announced}")
        session_id = request.match_info["session_id"]
        return await self._append(request, session_id, offset, complete, request.path)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        call = self._call(request)
        await self._stub.CancelUploadSession(
            pb.CancelUploadSessionRequest(session_id=request.match_info["session_id"]),
            metadata=call.metadata,
            timeout=call.timeout,
        )
        return web.Response(status=204)

    async def _status(
        self, request: web.Request, session_id: str | None = None
    ) -> pb.GetUploadSessionResponse:
        call = self._call(request)
        status: pb.GetUploadSessionResponse = await self._stub.GetUploadSession(
            pb.GetUploadSessionRequest(session_id=session_id or request.match_info["session_id"]),
            metadata=call.metadata,
            timeout=call.timeout,
        )
        return status

    async def _append(
        self,
        request: web.Request,
        session_id: str,
        offset: int,
        complete: bool,
        location: str,
        *,
        created: bool = False,
    ) -> web.StreamResponse:
        call = self._call(request, stream=True)
        messages = _append_messages(
            request,
            session_id,
            offset,
            leave_open=not complete,
            chunk_bytes=self._settings.stream_chunk_bytes,
        )
        try:
            response = await self._stub.UploadObject(
                messages, metadata=call.metadata, timeout=call.timeout
            )
        except aio.AioRpcError as error:
            raise CallFailed(error, {"Location": location}) from None
        if complete:
            done = web.json_response(to_json(response.object))
            done.headers.update({"Upload-Complete": "?1", "Location": location})
            return done
        status = await self._status(request, session_id)
        headers = {
            "Location": location,
            "Upload-Offset": str(status.blobs[0].persisted_size),
            "Upload-Complete": "?0",
            "Upload-Limit": _limit_header(status.limits, status.expires_at.ToDatetime(UTC)),
        }
        return web.Response(status=201 if created else 204, headers=headers)


def _object_location(request: web.Request, object_id: str) -> str:
    return f"/v1/buckets/{request.match_info['bucket_identifier']}/objects/{object_id}"


def _completed(request: web.Request, object_id: str) -> web.Response:
    """An append to a finished upload: 410 pointing at the object when it carries nothing (a
    client that lost the final answer), 400 when it carries bytes (they cannot be added)."""
    location = _object_location(request, object_id)
    details = {"reason": "COMPLETED_UPLOAD", "object_id": object_id}
    headers = {"Location": location, "Upload-Complete": "?1"}
    if request.content_length:
        return envelope(
            400,
            f"The upload is complete (object {object_id}): nothing can be appended to it",
            details=details,
            headers=headers,
        )
    return envelope(
        410, f"The upload is complete: it made object {object_id}", details=details, headers=headers
    )


async def _interim_104(request: web.Request, location: str, limit: str) -> None:
    """`104 Upload Resumption Supported` before the body is read (HTTP/1.1; aiohttp writes its
    own `100 Continue` the same way). Clients that do not know 1xx codes skip them (RFC 9110)."""
    if request.version < (1, 1) or request.writer is None:
        return
    head = (
        "HTTP/1.1 104 Upload Resumption Supported\r\n"
        f"Location: {location}\r\nUpload-Limit: {limit}\r\n\r\n"
    )
    await request.writer.write(head.encode("latin-1"))
    await asyncio.sleep(0)


_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}
_PATH = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
_BUCKET = {**_PATH, "name": "bucket_identifier"}


def openapi_operations() -> dict[str, Any]:
    """The upload resource's methods in the OpenAPI document."""
    state = {"description": "The upload's state in Upload-Offset, Upload-Complete, Upload-Limit"}
    return {
        "head": {
            "operationId": "ObjectService.GetUploadSession_head",
            "tags": ["ObjectService"],
            "summary": "Offset of a resumable upload (draft-ietf-httpbis-resumable-upload)",
            "description": "Upload-Offset is where the next append starts: the bytes stored in "
            "whole parts.",
            "parameters": [_BUCKET, _PATH],
            "responses": {"204": state, "default": _ERROR},
        },
        "patch": {
            "operationId": "ObjectService.UploadObject_append",
            "tags": ["ObjectService"],
            "summary": "Append to a resumable upload; Upload-Complete: ?1 finishes the object",
            "parameters": [
                _BUCKET,
                _PATH,
                header_parameter("Upload-Offset", "The offset HEAD answered", required=True),
                {**UPLOAD_COMPLETE, "required": True},
                UPLOAD_LENGTH,
            ],
            "requestBody": {
                "content": {PARTIAL_UPLOAD: {"schema": {"type": "string", "format": "binary"}}}
            },
            "responses": {
                "200": {
                    "description": "The object (Upload-Complete: ?1)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Object"}}
                    },
                },
                "204": state,
                "409": {**_ERROR, "description": "Upload-Offset is not the upload's offset"},
                "default": _ERROR,
            },
        },
        "delete": {
            "operationId": "ObjectService.CancelUploadSession",
            "tags": ["ObjectService"],
            "summary": "Cancel a resumable upload: its stored parts are freed",
            "parameters": [_BUCKET, _PATH],
            "responses": {"204": {"description": "Cancelled"}, "default": _ERROR},
        },
    }
