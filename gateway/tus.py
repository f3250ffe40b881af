"""tus 1.0.0 (https://tus.io/protocols/resumable-upload): an upload protocol adapter on the same
upload sessions as gRPC and the IETF draft (gateway/sessions.py), the one module that reads and
writes its headers. tus-js-client's default protocol, Uppy, TUSKit, tus-android-client and tuspy
speak it.

- Creation at the draft's URL (`POST …/objects/upload?property=…`), told apart by
  `Tus-Resumable`; `Upload-Metadata`'s `filename` and `filetype` are the blob's filename and MIME
  type, its `key_prefix` the object's. Extensions: creation, creation-with-upload,
  creation-defer-length, termination, expiration, checksum (sha1, md5, sha256).
- The upload URL (Location) is the session's, a capability (issue #36): HEAD, PATCH and DELETE on
  it need no key. An append that reaches `Upload-Length` finishes the object.
- Errors as the spec says: 412 for another version, 415 for another Content-Type, 409 for an
  offset mismatch, 413 past `Tus-Max-Size` or `Upload-Length`, 460 for a checksum mismatch (the
  body is checked before a byte is appended), in the error envelope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

from aiohttp import web
from grpc import aio

from bucketd.codec import MarshalError
from bucketd.gateway.errors import CallFailed, envelope
from bucketd.gateway.sessions import Session, Sessions
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import objects_pb2 as pb

VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum"
CHECKSUMS = {"sha1": hashlib.sha1, "md5": hashlib.md5, "sha256": hashlib.sha256}
CHECKSUM_MISMATCH = 460


class TusError(MarshalError):
    """A request tus refuses, with the status its spec gives."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _integer(request: web.Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    if not (value.strip().isascii() and value.strip().isdigit()):
        raise TusError(400, f"{name} must be a non-negative integer")
    return int(value)


def upload_metadata(request: web.Request) -> dict[str, str]:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs (a key alone: no value)."""
    pairs: dict[str, str] = {}
    for item in request.headers.get("Upload-Metadata", "").split(","):
        key, _, encoded = item.strip().partition(" ")
        if not key:
            continue
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise TusError(400, f"Upload-Metadata: the value of {key!r} is not base64") from None
    return pairs


def _expires(expires_at: datetime) -> str:
    return format_datetime(expires_at.astimezone(UTC), usegmt=True)


class Tus:
    """tus 1.0.0's creation POST, and its upload URL's HEAD, PATCH and DELETE."""

    def __init__(self, sessions: Sessions, settings: GatewaySettings) -> None:
        self._sessions = sessions
        self._settings = settings

    def speaks(self, request: web.Request) -> bool:
        return "Tus-Resumable" in request.headers

    def _check_version(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Tus-Resumable", "").strip() == VERSION:
            return None
        message = f"Tus-Resumable must be {VERSION}, the one tus version bucketd speaks"
        return envelope(412, message, headers={"Tus-Version": VERSION})

    async def options(self, _: web.Request) -> web.StreamResponse:
        """Discovery: what this server speaks."""
        return web.Response(status=204, headers=self._discovery())

    def _discovery(self) -> dict[str, str]:
        return {
            "Tus-Resumable": VERSION,
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(self._settings.max_stream_blob_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        }

    async def create(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> web.StreamResponse:
        """A `POST …/objects/upload` with `Tus-Resumable`: the session, then any first bytes."""
        refused = self._check_version(request)
        if refused is not None:
            return refused
        length = self._creation_length(request)
        if request.content_length and request.content_type != OFFSET_STREAM:
            return envelope(415, f"Send the first bytes as {OFFSET_STREAM}", headers=_tus())
        blob = header.blobs[0]
        blob.ClearField("mime_type")  # the body's type is tus's, not the file's
        metadata = upload_metadata(request)
        if metadata.get("filename"):
            blob.filename = metadata["filename"]
        if metadata.get("filetype"):
            blob.mime_type = metadata["filetype"]
        if metadata.get("key_prefix"):
            header.key_prefix = metadata["key_prefix"]
        if length is not None:
            blob.expected_size_bytes = length
        session, started = await self._sessions.start(request, header)
        if request.content_length or request.content_type == OFFSET_STREAM:
            return await self._patch(request, session, created=True)
        headers = {
            "Location": session.location,
            "Tus-Resumable": VERSION,
            "Upload-Offset": "0",
            "Upload-Expires": _expires(started.expires_at.ToDatetime(UTC)),
        }
        return web.Response(status=201, headers=headers)

    def _creation_length(self, request: web.Request) -> int | None:
        length = _integer(request, "Upload-Length")
        deferred = request.headers.get("Upload-Defer-Length", "").strip()
        if length is None and deferred != "1":
            raise TusError(400, "Upload-Length (or Upload-Defer-Length: 1) is required")
        if length is not None and length > self._settings.max_stream_blob_bytes:
            message = f"Upload-Length {length} exceeds Tus-Max-Size"
            raise TusError(413, f"{message} {self._settings.max_stream_blob_bytes}")
        return length

    async def answer(self, request: web.Request, method: str) -> web.StreamResponse:
        """The upload URL's `method` (HEAD, PATCH or DELETE)."""
        refused = self._check_version(request)
        if refused is not None:
            return refused
        session = Session.of(request)
        try:
            if method == "HEAD":
                return await self._head(request, session)
            if method == "PATCH":
                return await self._patch(request, session)
            await self._sessions.cancel(request, session)
        except aio.AioRpcError as error:
            raise CallFailed(error, {"Tus-Resumable": VERSION}) from None
        return web.Response(status=204, headers={"Tus-Resumable": VERSION})

    async def _head(self, request: web.Request, session: Session) -> web.StreamResponse:
        status = await self._sessions.status(request, session, take_over=True)
        blob = status.blobs[0]
        headers = {
            "Tus-Resumable": VERSION,
            "Upload-Offset": str(blob.persisted_size),
            "Cache-Control": "no-store",
        }
        if blob.HasField("expected_size_bytes"):
            headers["Upload-Length"] = str(blob.expected_size_bytes)
        elif not status.complete:
            headers["Upload-Defer-Length"] = "1"
        if not status.complete:
            headers["Upload-Expires"] = _expires(status.expires_at.ToDatetime(UTC))
        return web.Response(status=200, headers=headers)

    async def _patch(
        self, request: web.Request, session: Session, *, created: bool = False
    ) -> web.StreamResponse:
        if request.content_type != OFFSET_STREAM:
            return envelope(415, f"Append with Content-Type: {OFFSET_STREAM}", headers=_tus())
        offset = 0 if created else _integer(request, "Upload-Offset")
        if offset is None:
            raise TusError(400, "Upload-Offset is required: the offset HEAD answered")
        status = await self._sessions.status(request, session)
        blob = status.blobs[0]
        if status.complete:
            return envelope(409, "The upload is complete: nothing can be appended to it")
        announced = blob.expected_size_bytes if blob.HasField("expected_size_bytes") else None
        length = _integer(request, "Upload-Length") if announced is None else announced
        _check_length(offset, request.content_length, length)
        data = await self._checked_body(request)
        if data is not None:
            _check_length(offset, len(data), length)
        response, done = await self._append(request, session, offset, length, data)
        return await self._appended(request, session, response, created=created, done=done)

    async def _append(
        self,
        request: web.Request,
        session: Session,
        offset: int,
        length: int | None,
        data: bytes | None,
    ) -> tuple[pb.UploadObjectResponse, bool]:
        """The body (or `data`, read and checked already) appended at `offset`; the append
        whose bytes reach `length` finishes the object. With the result: whether it did."""
        sent = len(data) if data is not None else request.content_length
        complete = length is not None and sent is not None and offset + sent == length
        body = _once(data) if data is not None else self._sessions.body(request)
        # chunked (no Content-Length): the end of the body tells whether it reached the length
        left = length - offset if length is not None and sent is None else None
        if left is not None:
            body = _bounded(body, left)
        response = await self._sessions.append(
            request, session, offset, complete=complete, body=body
        )
        if left is not None:
            finished = await self._finish_at_length(request, session, offset + left)
            return finished or response, finished is not None
        return response, complete

    async def _finish_at_length(
        self, request: web.Request, session: Session, length: int
    ) -> pb.UploadObjectResponse | None:
        """After a chunked append (no Content-Length): the object, made by an empty final
        append, when the bytes reached Upload-Length; else None (the upload stays open)."""
        status = await self._sessions.status(request, session)
        if status.blobs[0].persisted_size != length:
            return None
        return await self._sessions.append(request, session, length, complete=True, body=_once(b""))

    async def _checked_body(self, request: web.Request) -> bytes | None:
        """With `Upload-Checksum`, the body read and checked before a byte is appended (it is
        then at most the JSON routes' body limit); else None: it streams as it arrives."""
        declared = request.headers.get("Upload-Checksum")
        if declared is None:
            return None
        algorithm, _, encoded = declared.strip().partition(" ")
        if algorithm not in CHECKSUMS:
            raise TusError(400, f"Upload-Checksum: use one of {', '.join(CHECKSUMS)}")
        limit = self._settings.http_max_body_bytes
        if (request.content_length or 0) > limit:
            raise TusError(413, f"a checksummed PATCH carries at most {limit} bytes")
        received = bytearray()
        while piece := await request.content.readany():
            received += piece
            if len(received) > limit:
                raise TusError(413, f"a checksummed PATCH carries at most {limit} bytes")
        data = bytes(received)
        digest = base64.b64encode(CHECKSUMS[algorithm](data).digest()).decode()
        if digest != encoded.strip():
            raise TusError(CHECKSUM_MISMATCH, f"Upload-Checksum: the body's {algorithm} differs")
        return data

    async def _appended(
        self,
        request: web.Request,
        session: Session,
        response: pb.UploadObjectResponse,
        *,
        created: bool,
        done: bool,
    ) -> web.StreamResponse:
        headers = {"Tus-Resumable": VERSION, "Location": session.location}
        if done:
            size = sum(blob.details.size_bytes for blob in response.object.blobs)
            headers["Upload-Offset"] = str(size)
        else:
            status = await self._sessions.status(request, session)
            headers["Upload-Offset"] = str(status.blobs[0].persisted_size)
            headers["Upload-Expires"] = _expires(status.expires_at.ToDatetime(UTC))
        return web.Response(status=201 if created else 204, headers=headers)


def _check_length(offset: int, sent: int | None, length: int | None) -> None:
    if length is not None and sent is not None and offset + sent > length:
        raise TusError(413, f"Upload-Offset {offset} + {sent} bytes exceed Upload-Length {length}")


def _tus() -> dict[str, str]:
    return {"Tus-Resumable": VERSION}


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _bounded(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """A chunked body, refused (413) before a chunk would take it past `limit` bytes: what
    came before that chunk is kept, as every byte received is."""
    received = 0
    async for data in body:
        received += len(data)
        if received > limit:
            raise TusError(413, f"the body exceeds Upload-Length by {received - limit} bytes")
        yield data


async def stamp(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer to a tus request carries `Tus-Resumable` (the spec asks it of all but
    OPTIONS), the error middleware's included: a tus client checks it on a failure too."""
    if "Tus-Resumable" in request.headers and request.method != "OPTIONS":
        response.headers.setdefault("Tus-Resumable", VERSION)
