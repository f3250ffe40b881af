"""A reader that stops mid-stream makes bucketd close its S3 read at once, over gRPC and over
HTTP: seen from a recording TCP proxy between bucketd and the session's S3 (RGW, or moto), the
connection that carried the ranged GET closes right after the reader left, having carried a
fraction of the blob (back-pressure held the rest in S3)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, serving, until
from tests.e2e.objects_support import make_bucket
from tests.e2e.read_support import MIB, upload

SIZE = 96 * MIB
AT_ONCE = 2.0  # seconds from the reader leaving to the S3 connection's close
RANGED_GET = re.compile(rb"^GET [^\r\n]*\r\n(?:[^\r\n]+\r\n)*?range: bytes=", re.IGNORECASE)


@dataclass
class Connection:
    """One connection of bucketd to S3: what came back on it, and when it closed."""

    replied: int = 0
    closed_at: float | None = None


@dataclass
class Recorded:
    connections: list[Connection] = field(default_factory=list)
    gets: list[tuple[Connection, int]] = field(default_factory=list)  # and replied before it


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    seen: Recorded,
    connection: Connection,
    *,
    upstream: bool,
) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(64 * 1024):
            if upstream and RANGED_GET.match(data):
                seen.gets.append((connection, connection.replied))
            if not upstream:
                connection.replied += len(data)
            writer.write(data)
            await writer.drain()


@contextlib.asynccontextmanager
async def recording_proxy(target: str, seen: Recorded) -> AsyncIterator[str]:
    """`http://host:port` of a TCP proxy to the S3 at `target` that records its connections."""
    parts = urlsplit(target)
    assert parts.hostname and parts.port

    async def accept(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        connection = Connection()
        seen.connections.append(connection)
        server_reader, server = await asyncio.open_connection(parts.hostname, parts.port)
        pipes = [
            asyncio.create_task(_pipe(client_reader, server, seen, connection, upstream=True)),
            asyncio.create_task(_pipe(server_reader, client, seen, connection, upstream=False)),
        ]
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        connection.closed_at = time.monotonic()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        for writer in (server, client):
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


@contextlib.asynccontextmanager
async def proxied_service(
    settings: Settings, gateway_settings: GatewaySettings, seen: Recorded
) -> AsyncIterator[Service]:
    assert settings.s3_endpoint_url
    async with (
        recording_proxy(settings.s3_endpoint_url, seen) as s3_url,
        running_process(replace(settings, s3_endpoint_url=s3_url), gateway_settings) as process,
        serving(process) as service,
    ):
        yield service


async def _closed_at_once(seen: Recorded, index: int, left_at: float) -> None:
    """The `index`th ranged GET's connection closed within AT_ONCE of `left_at`, having
    carried well under the blob."""
    await until(lambda: _true(len(seen.gets) > index), within=10)
    connection, before = seen.gets[index]
    await until(lambda: _true(connection.closed_at is not None), within=10)
    assert connection.closed_at is not None
    assert connection.closed_at - left_at < AT_ONCE, connection.closed_at - left_at
    assert connection.replied - before < SIZE // 2, connection.replied - before


async def _true(value: bool) -> bool:
    return value


async def test_a_reader_that_stops_mid_stream_closes_the_s3_read(
    settings: Settings, gateway_settings: GatewaySettings
) -> None:
    seen = Recorded()
    async with proxied_service(settings, gateway_settings, seen) as service:
        acme = await service.tenant("acme")
        await make_bucket(service, acme)
        object_id = await upload(service, acme, os.urandom(SIZE))
        request = pb.ReadObjectRequest(
            bucket_identifier="things", object_identifier=object_id, blob="0"
        )
        call = objects_pb2_grpc.ObjectServiceStub(service.channel).ReadObject(
            request, metadata=acme.metadata()
        )
        messages = aiter(call)
        for _ in range(3):  # the metadata, two slices
            await anext(messages)
        call.cancel()
        await _closed_at_once(seen, 0, time.monotonic())
        path = f"/v1/buckets/things/objects/{object_id}/blobs/0/content"
        async with service.http.get(path, headers=acme.headers()) as reply:
            assert reply.status == 200
            await reply.content.readexactly(4 * MIB)
            reply.close()  # the reader leaves: its connection closes
        await _closed_at_once(seen, 1, time.monotonic())
