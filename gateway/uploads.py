"""The handlers of the stream and session route kinds (gateway/routes.py): an HTTP body piped
chunk by chunk into ObjectService.UploadObject, and an upload session's resource.

`POST /v1/buckets/{bucket_identifier}/objects/upload?property=…[&type=…&filename=…&key_prefix=…]`
takes the raw file as the body (any Content-Type, chunked transfer allowed): its query
parameters are those UploadBlobHeader and UploadObjectHeader mark `(http_in)`. A
`multipart/form-data` body takes one or more file parts (part name = property) after an optional
JSON part (`application/json`, the object's fields). Neither is ever held whole in memory.

A request in an upload protocol (`protocols()`: the IETF resumable-upload draft, tus 1.0) opens a
session instead, and the session's resource answers in that protocol: an adapter translates
headers to the session calls (gateway/sessions.py) and back, so a protocol costs one module.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from grpc import aio

from bucketd.chunks import Chunk
from bucketd.codec import InvalidField, MarshalError, parse_request, text_values, to_json
from bucketd.gateway import calls as rpc
from bucketd.gateway import ietf_draft, tus_openapi
from bucketd.gateway.calls import Calls, Sent
from bucketd.gateway.errors import CallFailed
from bucketd.gateway.ietf_draft import IetfDraft, declared_length
from bucketd.gateway.inputs import BodyTooLarge, Call, check_declared_size, parse_json
from bucketd.gateway.pace import BodyPace
from bucketd.gateway.routes import Route
from bucketd.gateway.sessions import Sessions
from bucketd.gateway.settings import GatewaySettings
from bucketd.gateway.tus import Tus
from bucketd.v1 import objects_pb2 as pb


class UploadProtocol(Protocol):
    """An upload protocol adapter: its creation request, and its session resource's methods."""

    def speaks(self, request: web.Request) -> bool: ...

    async def create(
        self, request: web.Request, header: pb.UploadObjectHeader
    ) -> web.StreamResponse: ...

    async def options(self, request: web.Request) -> web.StreamResponse: ...

    async def answer(self, request: web.Request, method: str) -> web.StreamResponse: ...


def protocols(calls: Calls, settings: GatewaySettings) -> list[UploadProtocol]:
    """The upload protocols, the default (for a resource request no protocol claims) first."""
    sessions = Sessions(calls, settings)
    return [IetfDraft(sessions), Tus(sessions, settings)]


# What each protocol adds to its routes' OpenAPI operations, by HTTP method (OPTIONS: the
# discovery StreamHandler.options answers), in the order of `protocols()`, with its name.
PROTOCOL_DOCS = [("IETF draft", ietf_draft.OPENAPI), (tus_openapi.NAME, tus_openapi.OPENAPI)]


# What clients send when nobody chose a type (curl's --data-binary default): not a statement
# about the file, so bucketd sniffs the bytes instead of refusing them for it.
_UNDECLARED = {"", "application/x-www-form-urlencoded"}


def _declared_type(request: web.Request) -> str | None:
    declared = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return None if declared in _UNDECLARED else request.headers["Content-Type"]


def raw_header(
    route: Route, request: web.Request, *, expected_size: int | None
) -> pb.UploadObjectHeader:
    """The object and its one blob: the path, the query (the header's and the blob's query
    fields) and the body's Content-Type."""
    query = {name: request.query.getall(name) for name in request.query}
    typed = text_values(route.query_fields, query, source="query")
    own = {f.name for f in route.query_fields.values() if f.containing_type == route.fields}
    blob: dict[str, Any] = {k: v for k, v in typed.items() if k not in own}
    blob.update(mime_type=_declared_type(request), expected_size_bytes=expected_size)
    fields = {k: v for k, v in typed.items() if k in own and v != ""}  # key_prefix= is none
    header = parse_request(pb.UploadObjectHeader, fields, complete=False)
    header.bucket_identifier = request.match_info["bucket_identifier"]
    header.blobs.append(parse_request(pb.UploadBlobHeader, blob, complete=False))
    return header


async def _raw(
    header: pb.UploadObjectHeader, request: web.Request, settings: GatewaySettings
) -> AsyncIterator[Sent]:
    yield pb.UploadObjectRequest(header=header)
    offset, size = 0, settings.stream_chunk_bytes
    async for data in BodyPace(settings).chunks(lambda: request.content.read(size)):
        yield Chunk(blob_index=0, write_offset=offset, data=data)
        offset += len(data)


async def _json_part(part: BodyPartReader, limit: int, pace: BodyPace) -> dict[str, Any]:
    """The form's JSON part, read within the JSON routes' size limit and with their guards
    (depth, NaN, 64-bit integers)."""
    raw = bytearray()
    async for data in pace.chunks(part.read_chunk):
        raw += data
        if len(raw) > limit:
            raise BodyTooLarge(f"the JSON part exceeds the limit of {limit} bytes")
    return parse_json(bytes(part.decode(bytes(raw))))


async def _form(
    request: web.Request, bucket: str, settings: GatewaySettings
) -> AsyncIterator[Sent]:
    reader = await request.multipart()
    header_sent, index, pace = False, 0, BodyPace(settings)
    chunk_bytes = settings.stream_chunk_bytes
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise MarshalError("nested multipart bodies are not supported")
        if part.headers.get("Content-Type", "").startswith("application/json"):
            if header_sent:
                raise MarshalError("the JSON part must come before the file parts")
            fields = await _json_part(part, settings.http_max_body_bytes, pace)
            header = parse_request(pb.UploadObjectHeader, {**fields, "blobs": []}, complete=False)
            header.bucket_identifier = bucket
            header_sent = True
            yield pb.UploadObjectRequest(header=header)
            continue
        if not header_sent:
            header_sent = True
            yield pb.UploadObjectRequest(header=pb.UploadObjectHeader(bucket_identifier=bucket))
        blob = {"property": part.name, "filename": part.filename}
        blob["mime_type"] = part.headers.get("Content-Type")
        yield pb.UploadObjectRequest(blob=parse_request(pb.UploadBlobHeader, blob, complete=False))
        offset = 0
        async for data in pace.chunks(functools.partial(part.read_chunk, chunk_bytes)):
            yield Chunk(blob_index=index, write_offset=offset, data=data)
            offset += len(data)
        index += 1


def _refuse_other_drafts(request: web.Request) -> None:
    """A resumable-upload draft bucketd does not speak is refused at creation, not after it
    (tus-js-client's `ietf-draft-03` sends interop version 5; drafts before -03 sent
    `Upload-Incomplete`)."""
    version = request.headers.get(ietf_draft.INTEROP)
    if "Upload-Incomplete" in request.headers or (
        version is not None and ietf_draft.interop_version(request) is None
    ):
        versions = ", ".join(str(v) for v in sorted(ietf_draft.INTEROP_VERSIONS))
        raise ietf_draft.BadUploadHeader(
            f"{ietf_draft.INTEROP} {version or '(Upload-Incomplete: drafts -01 and -02)'} is "
            f"not spoken here: use interop version {versions} (ietf-draft-05 or later), or tus 1.0"
        )


class StreamHandler:
    """The stream kind: the body is UploadObject's stream, or an upload protocol's first bytes."""

    def __init__(
        self, route: Route, calls: Calls, settings: GatewaySettings, adapters: list[UploadProtocol]
    ) -> None:
        self._route = route
        self._calls = calls
        self._settings = settings
        self._protocols = adapters

    async def handle(self, request: web.Request) -> web.StreamResponse:
        call = Call.of(request, self._settings, stream=True)
        check_declared_size(request, self._settings.max_stream_blob_bytes)
        form = request.content_type == "multipart/form-data"
        if not form and not request.query.get("property"):
            raise InvalidField(
                "query parameter 'property' is required: the schema field of the file"
            )
        _refuse_other_drafts(request)
        protocol = next((p for p in self._protocols if p.speaks(request)), None)
        if protocol is not None:
            if form:
                raise MarshalError(
                    "a resumable upload (Upload-Complete) takes the raw file as the body, "
                    "not multipart/form-data"
                )
            header = raw_header(self._route, request, expected_size=None)
            return await protocol.create(request, header)
        return await self._stream(request, call, form=form)

    async def _stream(self, request: web.Request, call: Call, *, form: bool) -> web.StreamResponse:
        if form:
            bucket = request.match_info["bucket_identifier"]
            body = _form(request, bucket, self._settings)
        else:
            header = raw_header(self._route, request, expected_size=declared_length(request))
            body = _raw(header, request, self._settings)
        failures: list[Exception] = []
        try:
            response = await self._calls(rpc.UPLOAD_OBJECT, _recording(body, failures), call)
        except asyncio.CancelledError:
            if failures:  # our body reader failed, and gRPC cancelled the call for it
                raise failures[0] from None
            raise
        except aio.AioRpcError as error:  # a raw body's fields are its headers
            raise CallFailed(error, {}, None if form else ietf_draft.HEADER_FIELDS) from None
        return web.json_response(to_json(getattr(response, self._route.response_body)))

    async def options(self, request: web.Request) -> web.StreamResponse:
        """Every upload protocol's discovery, in one answer."""
        answer = web.Response(status=204)
        for protocol in self._protocols:
            answer.headers.update((await protocol.options(request)).headers)
        return answer


class SessionHandler:
    """The session kind: the protocol the request speaks (else the default one) answers."""

    def __init__(self, route: Route, adapters: list[UploadProtocol]) -> None:
        self._method = route.http_method
        self._protocols = adapters

    async def handle(self, request: web.Request) -> web.StreamResponse:
        protocol = next((p for p in self._protocols if p.speaks(request)), self._protocols[0])
        return await protocol.answer(request, self._method)


async def _recording(
    messages: AsyncIterator[Sent], failures: list[Exception]
) -> AsyncIterator[Sent]:
    """The messages; a failure while producing them is kept, to be answered after the call."""
    try:
        async for message in messages:
            yield message
    except MarshalError as error:  # its status stays: 408 for a slow body, 413, 422
        failures.append(error)
        raise
    except ValueError as error:
        failures.append(MarshalError(str(error)))
        raise
    except HttpProcessingError as error:  # a malformed multipart body (its part headers)
        failures.append(MarshalError(f"malformed multipart/form-data body: {error.message}"))
        raise
