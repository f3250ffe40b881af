"""The READ route kind's handler: ReadObject's stream answered as the bytes themselves, with
HTTP's range and validator headers (gateway/ranges.py). The bytes go to the client as they
arrive: each write waits for the socket (aiohttp's drain), which holds the next read of the
stream, and so of S3; a client that goes away cancels the call, which closes the S3 read."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from aiohttp import web
from grpc import aio

from bucketd import error_reasons
from bucketd.codec import text_values
from bucketd.gateway.calls import READ_OBJECT, Calls
from bucketd.gateway.errors import CallFailed, envelope, error_info
from bucketd.gateway.inputs import Call
from bucketd.gateway.ranges import (
    UNSATISFIABLE,
    Wanted,
    content_range,
    disposition,
    etag,
    none_match,
    range_applies,
    wanted,
)
from bucketd.gateway.routes import Route
from bucketd.gateway.settings import GatewaySettings
from bucketd.v1 import common_pb2
from bucketd.v1 import objects_pb2 as pb

log = logging.getLogger("bucketd.gateway")


@contextlib.asynccontextmanager
async def _opened(answers: AsyncIterable[Any]) -> AsyncIterator[AsyncIterator[Any]]:
    """The stream's messages; when the handler is done with them (or fails, or is cancelled)
    the call ends: a grpc.aio call is cancelled, an in-process one closed."""
    iterator = aiter(answers)
    try:
        yield iterator
    finally:
        cancel = getattr(answers, "cancel", None)
        if cancel is not None:
            cancel()
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


def _unsatisfiable(error: aio.AioRpcError) -> CallFailed:
    """The call's failure, with the Content-Range a 416 names the blob's size in."""
    reason, details = error_info(error)
    headers = {}
    if reason == common_pb2.ERROR_REASON_RANGE_NOT_SATISFIABLE and "size_bytes" in details:
        headers["Content-Range"] = f"bytes */{details['size_bytes']}"
    return CallFailed(error, headers)


class ContentHandler:
    """GET (and HEAD) of a blob's bytes, through ReadObject."""

    def __init__(self, route: Route, calls: Calls, settings: GatewaySettings) -> None:
        self._route = route
        self._calls = calls
        self._settings = settings

    def _request(self, request: web.Request, want: Wanted) -> pb.ReadObjectRequest:
        path = {name: [value] for name, value in request.match_info.items()}
        query = {name: request.query.getall(name) for name in request.query}
        text_values(self._route.query_fields, query, source="query")  # refuses any: none taken
        message = pb.ReadObjectRequest(read_offset=want.read_offset, read_limit=want.read_limit)
        for name, value in text_values(self._route.path_fields, path, source="path").items():
            setattr(message, name, value)
        return message

    async def handle(self, request: web.Request) -> web.StreamResponse:
        call = Call.of(request, self._settings, stream=True)
        want = wanted(request.headers.get("Range"))
        if want is UNSATISFIABLE:
            return _416("Range: bytes=-0 asks for no bytes; ask for at least one", None)
        try:
            return await self._answer(request, call, want)
        except aio.AioRpcError as error:
            raise _unsatisfiable(error) from None

    async def _answer(
        self, request: web.Request, call: Call, want: Wanted | None
    ) -> web.StreamResponse:
        message = self._request(request, want or Wanted(0, 0))
        async with _opened(self._calls.stream(READ_OBJECT, message, call)) as answers:
            metadata = (await anext(answers)).metadata
            current = etag(metadata.details.hash)
            if none_match(request.headers.get("If-None-Match"), current):
                return web.Response(status=304, headers=_validators(current))
            if want is None or range_applies(request.headers.get("If-Range"), current):
                return await _send(request, answers, metadata, ranged=want is not None)
        return await self._answer(request, call, None)  # If-Range differs: the whole body


def _416(message: str, content_range_header: str | None) -> web.Response:
    unsatisfiable = error_reasons.of(common_pb2.ERROR_REASON_RANGE_NOT_SATISFIABLE)
    headers = {"Content-Range": content_range_header} if content_range_header else {}
    return envelope(416, message, headers=headers, error_type=unsatisfiable.error_type)


def _validators(current: str | None) -> dict[str, str]:
    return {"Accept-Ranges": "bytes", **({"ETag": current} if current else {})}


def _headers(metadata: pb.ReadObjectMetadata, current: str | None) -> dict[str, str]:
    details = metadata.details
    headers = {
        **_validators(current),
        "Content-Type": details.mime_type or "application/octet-stream",
    }
    if named := disposition(details.filename):
        headers["Content-Disposition"] = named
    return headers


async def _send(
    request: web.Request,
    answers: AsyncIterator[Any],
    metadata: pb.ReadObjectMetadata,
    *,
    ranged: bool,
) -> web.StreamResponse:
    """200, or 206 for a range; the first slice is read before the status is sent, so a storage
    failure still answers its error."""
    size, offset, length = metadata.details.size_bytes, metadata.read_offset, metadata.read_length
    current = etag(metadata.details.hash)
    if ranged and not length:  # a range of an empty blob: nothing can be served
        message = "the blob is empty: it has no byte to serve for a Range"
        return _416(message, f"bytes */{size}")
    response = web.StreamResponse(
        status=206 if ranged else 200, headers=_headers(metadata, current)
    )
    if ranged:
        response.headers["Content-Range"] = content_range(offset, length, size)
    response.content_length = length
    first = None if request.method == "HEAD" or not length else await anext(answers)
    await response.prepare(request)
    if first is None:
        return response
    try:
        await response.write(first.checksummed_data.content)
        async for answer in answers:
            await response.write(answer.checksummed_data.content)
    except ConnectionResetError:  # the client went away: the call is ended on the way out
        return response
    except aio.AioRpcError as error:  # after the status: the truncated body says it failed
        log.warning("ReadObject failed mid-body: %s: %s", error.code().name, error.details())
        if request.transport is not None:
            request.transport.close()
    return response
