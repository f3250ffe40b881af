"""The IETF resumable-upload draft (draft-ietf-httpbis-resumable-upload): an upload protocol
adapter, the one module that reads and writes its headers.

A raw-body `POST …/objects/upload` that carries `Upload-Complete` starts an upload session
(gateway/sessions.py) and answers its **upload resource**, `…/objects/upload/{session_id}`, in
`Location`. On that resource, `HEAD` answers the offset, `PATCH` (`application/partial-upload`)
appends from it and, with `Upload-Complete: ?1`, finishes the object, and `DELETE` cancels.

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
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from grpc import aio

from bucketd.codec import MarshalError, to_json
from bucketd.error_reasons import ErrorReason
from bucketd.gateway.errors import CallFailed, envelope, error_info
from bucketd.gateway.sessions import Session, Sessions
from bucketd.v1 import objects_pb2 as pb

PARTIAL_UPLOAD = "application/partial-upload"
INTEROP = "Upload-Draft-Interop-Version"
INTEROP_VERSIONS = frozenset({6, 7, 8})  # drafts -05 (tus-js-client's ietf-draft-05) to latest
FINISHES_AT_LENGTH = 6  # draft -05: an append that reaches Upload-Length completes the upload
# The stream's fields a raw upload's headers carry: an error naming one names the header.
HEADER_FIELDS = {"chunk.write_offset": "Upload-Offset", "blobs[0].mime_type": "Content-Type"}


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


def sent_length(request: web.Request) -> int | None:
    """The body's length: Content-Length, 0 for a request with no body at all (neither
    Content-Length nor chunked transfer), None when the chunks will tell."""
    if request.content_length is not None or request.body_exists:
        return request.content_length
    return 0


def declared_length(request: web.Request) -> int | None:
    """The body's length as Content-Length or Upload-Length declare it (they must agree, as the
    draft's inconsistent lengths are a 400): a body that does not match it is refused and
    nothing is kept."""
    length = structured_integer(request, "Upload-Length")
    sent = sent_length(request)
    if length is not None and sent is not None and length != sent:
        raise BadUploadHeader(f"Upload-Length {length} and the body's length {sent} disagree")
    return sent if length is None else length


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


def _creation_length(request: web.Request, complete: bool) -> int | None:
    length = structured_integer(request, "Upload-Length")
    sent = sent_length(request)
    if complete and sent is not None:
        if length is not None and length != sent:
            raise BadUploadHeader(f"Upload-Length {length} and the body's length {sent} disagree")
        length = sent
    if length is not None and sent is not None and sent > length:
        raise BadUploadHeader(f"Content-Length {sent} exceeds Upload-Length {length}")
    return length


def _append_length(
    request: web.Request, offset: int, complete: bool, announced: int | None
) -> int | None:
    """The upload's length after this append, checked against what the headers and the
    session announced."""
    length = structured_integer(request, "Upload-Length")
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
    return length


class IetfDraft:
    """The draft's creation POST and its upload resource's HEAD, PATCH and DELETE."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def speaks(self, request: web.Request) -> bool:
        """A creation request in this protocol: it says whether it carries the whole file."""
        return "Upload-Complete" in request.headers

    async def create(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> web.StreamResponse:
        """A `POST …/objects/upload` with `Upload-Complete`: the session first, then its bytes."""
        complete = structured_boolean(request, "Upload-Complete")
        length = _creation_length(request, complete)
        if request.content_type == PARTIAL_UPLOAD:  # the draft's type (draft -05), not the file's
            header.blobs[0].ClearField("mime_type")
        if length is not None:
            header.blobs[0].expected_size_bytes = length
        try:
            session, started = await self._sessions.start(request, header)
        except aio.AioRpcError as error:
            raise CallFailed(error, _versioned(request, {}), HEADER_FIELDS) from None
        limit = _limit_header(started.limits, started.expires_at.ToDatetime(UTC))
        if interop_version(request):
            interim = {"Location": session.location, "Upload-Limit": limit}
            await _interim_104(request, _versioned(request, interim))
        return await self._append(request, session, 0, complete, length=length, created=True)

    async def options(self, _: web.Request) -> web.StreamResponse:
        """The route supports resumable uploads (the draft's discovery by OPTIONS)."""
        return web.Response(
            status=204, headers={"Accept-Patch": PARTIAL_UPLOAD, "Allow": "POST, OPTIONS"}
        )

    async def answer(self, request: web.Request, method: str) -> web.StreamResponse:
        """The upload resource's `method` (HEAD, PATCH or DELETE)."""
        session = Session.of(request)
        if method == "HEAD":
            return await self._head(request, session)
        if method == "PATCH":
            return await self._patch(request, session)
        await self._sessions.cancel(request, session)
        return web.Response(status=204, headers=_versioned(request, {}))

    async def _head(self, request: web.Request, session: Session) -> web.StreamResponse:
        """The offset, once any request still writing the upload has been ended."""
        status = await self._sessions.status(request, session, take_over=True)
        blob = status.blobs[0]
        headers = {
            "Upload-Offset": str(blob.persisted_size),
            "Upload-Complete": "?1" if status.complete else "?0",
            "Cache-Control": "no-store",
        }
        if status.complete:
            headers["Location"] = session.object_location(status.object_id)
        else:
            expires_at = status.expires_at.ToDatetime(UTC)
            headers["Upload-Limit"] = _limit_header(status.limits, expires_at)
        if blob.HasField("expected_size_bytes"):
            headers["Upload-Length"] = str(blob.expected_size_bytes)
        return web.Response(status=204, headers=_versioned(request, headers))

    async def _patch(self, request: web.Request, session: Session) -> web.StreamResponse:
        if request.content_type != PARTIAL_UPLOAD:
            message = f"Append to an upload resource with Content-Type: {PARTIAL_UPLOAD}"
            return envelope(415, message)
        offset = structured_integer(request, "Upload-Offset")
        if offset is None:
            raise BadUploadHeader("Upload-Offset is required: the offset HEAD answered")
        complete = structured_boolean(request, "Upload-Complete")
        status = await self._sessions.status(request, session)
        blob = status.blobs[0]
        if status.complete:
            return _completed(request, session, status.object_id)
        announced = blob.expected_size_bytes if blob.HasField("expected_size_bytes") else None
        if offset != blob.persisted_size:  # the session answers 409 and the right offset first
            return await self._append(request, session, offset, complete, length=announced)
        length = _append_length(request, offset, complete, announced)
        sent = request.content_length
        reaches_length = length is not None and sent is not None and offset + sent == length
        if interop_version(request) == FINISHES_AT_LENGTH and reaches_length:
            complete = True
        return await self._append(request, session, offset, complete, length=length)

    async def _append(
        self,
        request: web.Request,
        session: Session,
        offset: int,
        complete: bool,
        *,
        length: int | None,
        created: bool = False,
    ) -> web.StreamResponse:
        try:
            response = await self._sessions.append(request, session, offset, complete=complete)
        except aio.AioRpcError as error:
            headers = _failed_headers(error, session.location)
            raise CallFailed(error, _versioned(request, headers), HEADER_FIELDS) from None
        if complete:
            done = web.json_response(to_json(response.object))
            size = sum(blob.details.size_bytes for blob in response.object.blobs)
            headers = {"Upload-Complete": "?1", "Location": session.location}
            done.headers.update(_versioned(request, {**headers, "Upload-Offset": str(size)}))
            return done
        status = await self._sessions.status(request, session)
        headers = {
            "Location": session.location,
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
    mismatch = reason == ErrorReason.ERROR_REASON_MISMATCHING_UPLOAD_OFFSET
    if mismatch and "persisted_offset" in metadata:
        headers.update({"Upload-Offset": metadata["persisted_offset"], "Upload-Complete": "?0"})
    return headers


def _completed(request: web.Request, session: Session, object_id: str) -> web.Response:
    """An append to a finished upload: 410 pointing at the object when it carries nothing (a
    client that lost the final answer), 400 when it carries bytes (they cannot be added)."""
    location = session.object_location(object_id)
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


def _header(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    schema = {"type": "string"}
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    }


_COMPLETE = "?1 when this request carries the rest of the file, ?0 when more appends follow"
_LENGTH = _header("Upload-Length", "The whole file's size in bytes, when known")
_INTEROP = _header(
    INTEROP,
    "The resumable-upload draft's interop version the client speaks (6, 7 or 8); only then "
    "does it get the 104 interim response",
)
_STATE = {"description": "The upload's state in Upload-Offset, Upload-Complete, Upload-Limit"}
# What the draft adds to its routes' OpenAPI operations (gateway/openapi.py), by HTTP method:
# its header fields, its answers, and the description of what it does.
OPENAPI: dict[str, dict[str, Any]] = {
    "OPTIONS": {
        "summary": "What the upload route speaks (resumable-upload discovery)",
        "parameters": [],
        "responses": {"204": {"description": f"Accept-Patch: {PARTIAL_UPLOAD}"}},
        "description": "Resumable uploads are supported (Accept-Patch); no key needed.",
    },
    "POST": {
        "summary": "Create an object from a streamed file (raw body or multipart/form-data)",
        "parameters": [_header("Upload-Complete", _COMPLETE), _LENGTH, _INTEROP],
        "responses": {
            "201": {"description": "Upload-Complete: ?0 - the upload resource is in Location"}
        },
        "description": "With Upload-Complete (raw body only) the upload is resumable "
        "(draft-ietf-httpbis-resumable-upload): Location (and a 104 interim response, to a client "
        "naming an interop version) names its upload resource (HEAD, PATCH, DELETE).",
    },
    "HEAD": {
        "summary": "Offset of a resumable upload (draft-ietf-httpbis-resumable-upload)",
        "parameters": [_INTEROP],
        "responses": {"204": _STATE},
        "description": "Upload-Offset is where the next append starts: every byte stored. "
        "A request still writing the upload is ended first.",
    },
    "PATCH": {
        "summary": "Append to a resumable upload; Upload-Complete: ?1 finishes the object",
        "parameters": [
            _header("Upload-Offset", "The offset HEAD answered", required=True),
            _header("Upload-Complete", _COMPLETE, required=True),
            _LENGTH,
            _INTEROP,
        ],
        "requestBody": {
            "content": {PARTIAL_UPLOAD: {"schema": {"type": "string", "format": "binary"}}}
        },
        "responses": {
            "204": _STATE,
            "409": "Upload-Offset is not the upload's offset (UploadOffsetMismatchError), or a "
            "newer request took the upload over",
            "410": "The upload is complete: Location is its object",
            "415": "Content-Type is not application/partial-upload",
        },
        "description": "Appends from Upload-Offset; a request still writing the upload is "
        "ended first.",
    },
    "DELETE": {
        "summary": "Cancel a resumable upload: its stored parts are freed",
        "parameters": [_INTEROP],
        "responses": {"204": {"description": "Cancelled: the stored parts are freed"}},
        "description": "The session ends: its object is FAILED, its parts aborted.",
    },
}
