"""Resumable uploads over plain HTTP, as draft-ietf-httpbis-resumable-upload specifies.

A raw-body `POST …/objects/upload` that carries `Upload-Complete` starts an upload session (the
one gRPC's StartUploadSession opens: one store, one lease, one expiry, one janitor) and answers
its **upload resource**, `…/objects/upload/{session_id}`, in `Location`. On that resource, `HEAD`
answers the offset, `PATCH` (`application/partial-upload`) appends from it and, with
`Upload-Complete: ?1`, finishes the object, and `DELETE` cancels.

- **Every byte received counts**: `Upload-Offset` is all the bytes stored, a broken request's
  included (the session keeps what follows its last S3 part as its tail).
- **A new request takes over**: HEAD, PATCH and DELETE end the request still writing the upload
  (on any instance) before they are answered, so the offset HEAD gives is the one the next
  PATCH must carry, and a client that lost its connection resumes at once.
- **Interop versions 6 to 8** (drafts -05 to the latest) in `Upload-Draft-Interop-Version`:
  only a request naming one of them gets the `104 (Upload Resumption Supported)` interim
  response (clients that do not know the draft, e.g. those built on Python's http.client, would
  take it for the final answer), and the answers repeat the version. Version 6 (draft -05, what
  tus-js-client's `ietf-draft-05` speaks) finishes the upload when an append reaches its
  `Upload-Length`, as tusd does; later versions wait for `Upload-Complete: ?1`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from grpc import aio

from bucketd.calls import Caller, unary
from bucketd.codec import to_json
from bucketd.gateway.errors import CallFailed, envelope, error_info
from bucketd.gateway.inputs import Call
from bucketd.gateway.settings import GatewaySettings
from bucketd.gateway.streams import (
    UPLOAD_COMPLETE,
    UPLOAD_INTEROP,
    UPLOAD_LENGTH,
    BadUploadHeader,
    Sent,
    chunk,
    header_parameter,
    structured_boolean,
    structured_integer,
    upload_object,
)
from bucketd.v1 import objects_pb2 as pb

RESOURCE = "/v1/buckets/{bucket_identifier}/objects/upload/{session_id}"
PARTIAL_UPLOAD = "application/partial-upload"
INTEROP = "Upload-Draft-Interop-Version"
INTEROP_VERSIONS = frozenset({6, 7, 8})  # drafts -05 (tus-js-client's ietf-draft-05) to latest
FINISHES_AT_LENGTH = 6  # draft -05: an append that reaches Upload-Length completes the upload
SERVICE = "/bucketd.v1.ObjectService"


def interop_version(request: web.Request) -> int | None:
    """The request's draft interop version, if it is one bucketd speaks."""
    value = request.headers.get(INTEROP, "").strip()
    if value.isascii() and value.isdigit() and int(value) in INTEROP_VERSIONS:
        return int(value)
    return None


def _versioned(request: web.Request, headers: dict[str, str]) -> dict[str, str]:
    version = interop_version(request)
    return {**headers, INTEROP: str(version)} if version else headers


def _limit_header(limits: pb.UploadSessionLimits, expires_at: datetime) -> str:
    remaining = max(0, math.floor((expires_at - datetime.now(UTC)).total_seconds()))
    return f"max-size={limits.max_size_bytes}, max-age={remaining}"


async def _append_messages(
    request: web.Request, header: pb.UploadObjectHeader, offset: int, *, chunk_bytes: int
) -> AsyncIterator[Sent]:
    """The header, then the body from `offset`: a first chunk of no bytes states the offset, so
    that the server checks it (after taking the session over) even for an empty append."""
    yield pb.UploadObjectRequest(header=header)
    yield chunk(0, offset, b"")
    async for data in request.content.iter_chunked(chunk_bytes):
        yield chunk(0, offset, data)
        offset += len(data)


class ResumableUploads:
    """The upload resource's methods, and the creating POST's resumable path."""

    def __init__(self, channel: Caller, settings: GatewaySettings) -> None:
        self._start = unary(channel, f"{SERVICE}/StartUploadSession", pb.StartUploadSessionResponse)
        self._cancel = unary(
            channel, f"{SERVICE}/CancelUploadSession", pb.CancelUploadSessionResponse
        )
        self._get = unary(channel, f"{SERVICE}/GetUploadSession", pb.GetUploadSessionResponse)
        self._upload = upload_object(channel)
        self._settings = settings

    def _call(self, request: web.Request, *, stream: bool = False) -> Call:
        return Call.of(request, self._settings, stream=stream)

    async def create(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> web.StreamResponse:
        """A `POST …/objects/upload` with `Upload-Complete`: the session first, then its bytes."""
        complete = structured_boolean(request, "Upload-Complete")
        length = structured_integer(request, "Upload-Length")
        sent = request.content_length
        if complete and sent is not None:
            if length is not None and length != sent:
                raise BadUploadHeader("Upload-Length and Content-Length disagree")
            length = sent
        if length is not None and sent is not None and sent > length:
            raise BadUploadHeader(f"Content-Length {sent} exceeds Upload-Length {length}")
        if length is not None:
            header.blobs[0].expected_size_bytes = length
        call = self._call(request)
        started = await self._start(
            pb.StartUploadSessionRequest(header=header),
            metadata=call.metadata,
            timeout=call.timeout,
        )
        bucket = request.match_info["bucket_identifier"]
        location = f"/v1/buckets/{bucket}/objects/upload/{started.session_id}"
        limit = _limit_header(started.limits, started.expires_at.ToDatetime(UTC))
        if interop_version(request):
            await _interim_104(
                request, _versioned(request, {"Location": location, "Upload-Limit": limit})
            )
        return await self._append(
            request, started.session_id, 0, complete, location, length=length, created=True
        )

    async def options(self, _: web.Request) -> web.StreamResponse:
        """The route supports resumable uploads (the draft's discovery by OPTIONS)."""
        return web.Response(
            status=204, headers={"Accept-Patch": PARTIAL_UPLOAD, "Allow": "POST, OPTIONS"}
        )

    async def head(self, request: web.Request) -> web.StreamResponse:
        """The offset, once any request still writing the upload has been ended."""
        status = await self._status(request, take_over=True)
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
        return web.Response(status=204, headers=_versioned(request, headers))

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
        length = structured_integer(request, "Upload-Length")
        announced = blob.expected_size_bytes if blob.HasField("expected_size_bytes") else None
        sent = request.content_length
        if complete and sent is not None:
            total = offset + sent
            length = total if length is None else length
            if length != total:
                raise BadUploadHeader("Upload-Length disagrees with Upload-Offset + Content-Length")
        if length is not None and announced is not None and length != announced:
            raise BadUploadHeader(f"Upload-Length {length} differs from the announced {announced}")
        length = announced if length is None else length
        if length is not None and sent is not None and offset + sent > length:
            raise BadUploadHeader(
                f"Upload-Offset {offset} + Content-Length {sent} exceeds Upload-Length {length}"
            )
        reaches_length = length is not None and sent is not None and offset + sent == length
        if interop_version(request) == FINISHES_AT_LENGTH and reaches_length:
            complete = True
        session_id = request.match_info["session_id"]
        return await self._append(
            request, session_id, offset, complete, request.path, length=length
        )

    async def delete(self, request: web.Request) -> web.StreamResponse:
        call = self._call(request)
        await self._cancel(
            pb.CancelUploadSessionRequest(
                session_id=request.match_info["session_id"],
                bucket_identifier=request.match_info["bucket_identifier"],
            ),
            metadata=call.metadata,
            timeout=call.timeout,
        )
        return web.Response(status=204, headers=_versioned(request, {}))

    async def _status(
        self, request: web.Request, session_id: str | None = None, *, take_over: bool = False
    ) -> pb.GetUploadSessionResponse:
        call = self._call(request)
        status: pb.GetUploadSessionResponse = await self._get(
            pb.GetUploadSessionRequest(
                session_id=session_id or request.match_info["session_id"],
                take_over=take_over,
                bucket_identifier=request.match_info["bucket_identifier"],
            ),
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
        length: int | None,
        created: bool = False,
    ) -> web.StreamResponse:
        call = self._call(request, stream=True)
        header = pb.UploadObjectHeader(
            session_id=session_id,
            leave_open=not complete,
            bucket_identifier=request.match_info["bucket_identifier"],
        )
        messages = _append_messages(
            request, header, offset, chunk_bytes=self._settings.stream_chunk_bytes
        )
        try:
            response = await self._upload(messages, metadata=call.metadata, timeout=call.timeout)
        except aio.AioRpcError as error:
            raise CallFailed(error, _versioned(request, _failed_headers(error, location))) from None
        if complete:
            done = web.json_response(to_json(response.object))
            size = sum(blob.details.size_bytes for blob in response.object.blobs)
            headers = {"Upload-Complete": "?1", "Location": location, "Upload-Offset": str(size)}
            done.headers.update(_versioned(request, headers))
            return done
        status = await self._status(request, session_id)
        headers = {
            "Location": location,
            "Upload-Offset": str(status.blobs[0].persisted_size),
            "Upload-Complete": "?0",
            "Upload-Limit": _limit_header(status.limits, status.expires_at.ToDatetime(UTC)),
        }
        if length is not None:
            headers["Upload-Length"] = str(length)
        return web.Response(status=201 if created else 204, headers=_versioned(request, headers))


def _failed_headers(error: aio.AioRpcError, location: str) -> dict[str, str]:
    """A failed append still says where the upload stands: its offset, on a mismatch."""
    headers = {"Location": location}
    reason, metadata = error_info(error)
    if reason == "MISMATCHING_UPLOAD_OFFSET" and "persisted_offset" in metadata:
        headers.update({"Upload-Offset": metadata["persisted_offset"], "Upload-Complete": "?0"})
    return headers


def _object_location(request: web.Request, object_id: str) -> str:
    return f"/v1/buckets/{request.match_info['bucket_identifier']}/objects/{object_id}"


def _completed(request: web.Request, object_id: str) -> web.Response:
    """An append to a finished upload: 410 pointing at the object when it carries nothing (a
    client that lost the final answer), 400 when it carries bytes (they cannot be added)."""
    location = _object_location(request, object_id)
    details = {"reason": "COMPLETED_UPLOAD", "object_id": object_id}
    headers = _versioned(request, {"Location": location, "Upload-Complete": "?1"})
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


async def _interim_104(request: web.Request, headers: dict[str, str]) -> None:
    """`104 Upload Resumption Supported` before the body is read (HTTP/1.1; aiohttp writes its
    own `100 Continue` the same way), to clients that named a draft version bucketd speaks."""
    if request.version < (1, 1) or request.writer is None:
        return
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = f"HTTP/1.1 104 Upload Resumption Supported\r\n{lines}\r\n"
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
            "description": "Upload-Offset is where the next append starts: every byte stored. "
            "A request still writing the upload is ended first.",
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
                UPLOAD_INTEROP,
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
                "409": {
                    **_ERROR,
                    "description": "Upload-Offset is not the upload's offset "
                    "(UploadOffsetMismatchError), or a newer request took the upload over",
                },
                "410": {**_ERROR, "description": "The upload is complete: Location is its object"},
                "415": {**_ERROR, "description": "Content-Type is not application/partial-upload"},
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
