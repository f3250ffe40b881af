"""The streaming upload route: an HTTP body piped chunk by chunk into ObjectService.UploadObject.

`POST /v1/buckets/{bucket_identifier}/objects/upload?property=…[&type=…&filename=…&key_prefix=…]`
takes the raw file as the body (any Content-Type, chunked transfer allowed); a
`multipart/form-data` body takes one or more file parts (part name = property) after an optional
JSON part (`application/json`, the object's fields). Neither is ever held whole in memory.
Client streaming has no google.api.http form, so this one route is written by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from bucketd.calls import Caller, StreamCall
from bucketd.chunks import Chunk
from bucketd.codec import InvalidField, MarshalError, parse_request, to_json
from bucketd.gateway.inputs import BodyTooLarge, Call, check_declared_size, parse_json
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import objects_pb2 as pb

PATH = "/v1/buckets/{bucket_identifier}/objects/upload"
RPC = "/bucketd.v1.ObjectService/UploadObject"


# The resumable form of the route (gateway/resumable.py): the request and the header it read.
ResumableCreate = Callable[[web.Request, pb.UploadObjectHeader], Awaitable[web.StreamResponse]]


def _blob(fields: dict[str, Any]) -> pb.UploadBlobHeader:
    return parse_request(pb.UploadBlobHeader, fields, complete=False)


# What the gateway sends UploadObject: messages, and chunks of bytes (bucketd/chunks.py).
Sent = pb.UploadObjectRequest | Chunk


def chunk(index: int, offset: int, data: bytes) -> Chunk:
    return Chunk(blob_index=index, write_offset=offset, data=data)


def _serialized(sent: Sent) -> bytes:
    return (sent.message() if isinstance(sent, Chunk) else sent).SerializeToString()


def upload_object(
    channel: Caller,
) -> StreamCall[Sent, pb.UploadObjectResponse]:
    """ObjectService.UploadObject on `channel`, taking chunks as they are (see Chunk)."""
    return channel.stream_unary(
        RPC,
        request_serializer=_serialized,
        response_deserializer=pb.UploadObjectResponse.FromString,
    )


# What clients send when nobody chose a type (curl's --data-binary default): not a statement
# about the file, so bucketd sniffs the bytes instead of refusing them for it.
_UNDECLARED = {"", "application/x-www-form-urlencoded"}


def _declared_type(request: web.Request) -> str | None:
    declared = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return None if declared in _UNDECLARED else request.headers["Content-Type"]


def raw_header(
    request: web.Request, bucket: str, *, expected_size: int | None
) -> pb.UploadObjectHeader:
    """The object and its one blob, from the query and the body's Content-Type."""
    query = request.query
    blob: dict[str, Any] = {
        "property": query["property"],
        "type": query.get("type"),
        "filename": query.get("filename"),
        "mime_type": _declared_type(request),
        "expected_size_bytes": expected_size,
        "expected_sha256": query.get("sha256"),  # lets bucketd write in place, without a copy
    }
    header = pb.UploadObjectHeader(bucket_identifier=bucket, blobs=[_blob(blob)])
    if query.get("key_prefix"):
        header.key_prefix = query["key_prefix"]
    return header


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


def declared_length(request: web.Request) -> int | None:
    """The body's length as Content-Length or Upload-Length declare it (they must agree): a
    body that does not match it is refused and nothing is kept."""
    length = structured_integer(request, "Upload-Length")
    sent = request.content_length
    if length is not None and sent is not None and length != sent:
        raise BadUploadHeader(f"Upload-Length {length} and Content-Length {sent} disagree")
    return sent if length is None else length


async def _raw(request: web.Request, bucket: str, chunk_bytes: int) -> AsyncIterator[Sent]:
    header = raw_header(request, bucket, expected_size=declared_length(request))
    yield pb.UploadObjectRequest(header=header)
    offset = 0
    async for data in request.content.iter_chunked(chunk_bytes):
        yield chunk(0, offset, data)
        offset += len(data)


async def _json_part(part: BodyPartReader, limit: int) -> dict[str, Any]:
    """The form's JSON part, read within the JSON routes' size limit and with their guards
    (depth, NaN, 64-bit integers)."""
    raw = bytearray()
    while data := await part.read_chunk():
        raw += data
        if len(raw) > limit:
            raise BodyTooLarge(f"the JSON part exceeds the limit of {limit} bytes")
    return parse_json(bytes(part.decode(bytes(raw))))


async def _form(
    request: web.Request, bucket: str, settings: GatewaySettings
) -> AsyncIterator[Sent]:
    reader = await request.multipart()
    header_sent, index = False, 0
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise MarshalError("nested multipart bodies are not supported")
        if part.headers.get("Content-Type", "").startswith("application/json"):
            if header_sent:
                raise MarshalError("the JSON part must come before the file parts")
            fields = await _json_part(part, settings.http_max_body_bytes)
            header = parse_request(pb.UploadObjectHeader, {**fields, "blobs": []}, complete=False)
            header.bucket_identifier = bucket
            header_sent = True
            yield pb.UploadObjectRequest(header=header)
            continue
        if not header_sent:
            header_sent = True
            yield pb.UploadObjectRequest(header=pb.UploadObjectHeader(bucket_identifier=bucket))
        blob = {
            "property": part.name,
            "filename": part.filename,
            "mime_type": part.headers.get("Content-Type"),
        }
        yield pb.UploadObjectRequest(blob=_blob(blob))
        offset = 0
        while data := await part.read_chunk(settings.stream_chunk_bytes):
            yield chunk(index, offset, data)
            offset += len(data)
        index += 1


class StreamUploadHandler:
    def __init__(
        self, channel: Caller, settings: GatewaySettings, resumable: ResumableCreate
    ) -> None:
        self._settings = settings
        self._resumable = resumable
        self._call = upload_object(channel)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        call = Call.of(request, self._settings, stream=True)
        check_declared_size(request, self._settings.max_stream_blob_bytes)
        bucket = request.match_info["bucket_identifier"]
        form = request.content_type == "multipart/form-data"
        if not form and not request.query.get("property"):
            raise InvalidField(
                "query parameter 'property' is required: the schema field of the file"
            )
        if "Upload-Complete" in request.headers:
            if form:
                raise MarshalError(
                    "a resumable upload (Upload-Complete) takes the raw file as the body, "
                    "not multipart/form-data"
                )
            header = raw_header(request, bucket, expected_size=None)
            return await self._resumable(request, header)
        failures: list[Exception] = []
        body = (
            _form(request, bucket, self._settings)
            if form
            else _raw(request, bucket, self._settings.stream_chunk_bytes)
        )
        messages = _recording(body, failures)
        try:
            response = await self._call(messages, metadata=call.metadata, timeout=call.timeout)
        except asyncio.CancelledError:
            if failures:  # our body reader failed, and gRPC cancelled the call for it
                raise failures[0] from None
            raise
        return web.json_response(to_json(response.object))


async def _recording(
    messages: AsyncIterator[Sent], failures: list[Exception]
) -> AsyncIterator[Sent]:
    """The messages; a failure while producing them is kept, to be answered after the call."""
    try:
        async for message in messages:
            yield message
    except (MarshalError, ValueError) as error:
        failures.append(MarshalError(str(error)))
        raise
    except HttpProcessingError as error:  # a malformed multipart body (its part headers)
        failures.append(MarshalError(f"malformed multipart/form-data body: {error.message}"))
        raise


def header_parameter(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


UPLOAD_COMPLETE = header_parameter(
    "Upload-Complete",
    "?1 when this request carries the rest of the file, ?0 when more appends follow",
)
UPLOAD_LENGTH = header_parameter("Upload-Length", "The whole file's size in bytes, when known")
UPLOAD_INTEROP = header_parameter(
    "Upload-Draft-Interop-Version",
    "The resumable-upload draft's interop version the client speaks (6, 7 or 8); only then "
    "does it get the 104 interim response",
)


def openapi_operation() -> dict[str, Any]:
    """The route in the OpenAPI document (the derived routes describe themselves)."""
    parameters = [
        {"name": "bucket_identifier", "in": "path", "required": True, "schema": {"type": "string"}},
        *(
            {
                "name": name,
                "in": "query",
                "required": name == "property",
                "schema": {"type": "string"},
            }
            for name in ("property", "type", "filename", "key_prefix")
        ),
        {
            "name": "sha256",
            "in": "query",
            "required": False,
            "description": "The file's SHA-256 (hex), when known: checked against the bytes, "
            "and it lets bucketd write them once at their final place.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
        UPLOAD_COMPLETE,
        UPLOAD_LENGTH,
        UPLOAD_INTEROP,
    ]
    return {
        "operationId": "ObjectService.UploadObject",
        "tags": ["ObjectService"],
        "summary": "Create an object from a streamed file (raw body or multipart/form-data)",
        "description": "With Upload-Complete (raw body only) the upload is resumable: Location "
        "(and a 104 interim response, to a client naming an interop version) names its upload "
        "resource (HEAD, PATCH, DELETE).",
        "parameters": parameters,
        "requestBody": {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "additionalProperties": True}},
            }
        },
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Object"}}
                },
            },
            "201": {"description": "Upload-Complete: ?0 - the upload resource is in Location"},
            "default": {
                "description": "Error",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
                },
            },
        },
    }
