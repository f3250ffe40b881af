"""Slow and lying clients: connections that trickle their headers are closed, a body that stops
arriving is a 408, a declared body over the limit is refused before a byte of it is read."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from bucketd.gateway.settings import GatewaySettings
from tests.e2e.harness import Service, Tenant

IDLE = 1.0


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    return dataclasses.replace(
        gateway_settings, http_idle_seconds=IDLE, http_body_idle_seconds=IDLE
    )


async def _connect(service: Service) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = service.http_url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def test_connections_that_trickle_their_headers_are_closed(service: Service) -> None:
    connections = [await _connect(service) for _ in range(50)]
    started = time.monotonic()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
        writer.write(b"POST /v1/buckets/list HTTP/1.1\r\nHost: x\r\n")
        for _ in range(100):  # one byte of a header every 100 ms, for up to 10 s
            try:
                writer.write(b"X")
                await writer.drain()
            except ConnectionError:
                break
            if reader.at_eof():
                break
            try:
                await asyncio.wait_for(reader.read(1), 0.1)
            except TimeoutError:
                continue
            break
        writer.close()
        return time.monotonic() - started

    closed_after = await asyncio.gather(*(trickle(r, w) for r, w in connections))
    assert max(closed_after) < IDLE + 5, closed_after


async def _request(service: Service, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    reader, writer = await _connect(service)
    started = time.monotonic()
    writer.write(head + body)
    await writer.drain()
    status_and_headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    seconds = time.monotonic() - started
    length = next(
        int(line.split(b":", 1)[1])
        for line in status_and_headers.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    answer = status_and_headers + await reader.readexactly(length)
    writer.close()
    return answer, seconds


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(
    service: Service, acme: Tenant
) -> None:
    head = (
        b"POST /v1/buckets/list HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {acme.api_key}\r\nX-Namespace: default\r\n".encode()
        + b"Content-Length: 3221225472\r\nConnection: close\r\n\r\n"
    )
    answer, seconds = await _request(service, head)  # and not a byte of the 3 GiB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"exceeds the limit" in answer and seconds < IDLE


async def test_a_body_that_stops_arriving_is_a_408(service: Service, acme: Tenant) -> None:
    head = (
        b"POST /v1/buckets/list HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {acme.api_key}\r\nX-Namespace: default\r\n".encode()
        + b"Content-Length: 100\r\nConnection: close\r\n\r\n"
    )
    answer, seconds = await _request(service, head, b'{"search": ')
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"stopped arriving" in answer and IDLE <= seconds < IDLE + 5
