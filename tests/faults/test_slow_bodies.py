"""Slow bodies are cut and wrong keys refused before a body is read (issue #39): a body slower
than BUCKETD_HTTP_BODY_MIN_BYTES_PER_SECOND past its grace is a 408 in the envelope, on the JSON
and the streaming routes; a wrong key is a 401 while the body is still on its way."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest

from bucketd.gateway.settings import GatewaySettings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket

GRACE = 0.5
RATE = 200.0  # bytes/s
STREAM = "/v1/buckets/things/objects/upload?property=notes&filename=n.txt"


@pytest.fixture
def gateway_settings(gateway_settings: GatewaySettings) -> GatewaySettings:
    # The idle timeout stays long: what cuts these bodies is their rate, or their key.
    return dataclasses.replace(
        gateway_settings,
        http_body_min_bytes_per_second=RATE,
        http_body_grace_seconds=GRACE,
        http_body_idle_seconds=60.0,
    )


async def _stalled(
    service: Service, method: str, path: str, authorization: str, *, namespace: bool = True
) -> tuple[int, dict[str, object], float]:
    """Sends the head and the body's first bytes of a 10,000-byte body, then nothing: the
    status, the envelope and how long the answer took."""
    host, port = service.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        f"Authorization: {authorization}\r\nContent-Length: 10000\r\n"
        + ("X-Namespace: default\r\n" if namespace else "")
        + "\r\n"
    )
    started = time.monotonic()
    writer.write(head.encode() + b'{"bucket_')
    await writer.drain()
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
        status = int(raw.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1])
            for line in raw.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = json.loads(await reader.readexactly(length))
    finally:
        writer.close()
    return status, body, time.monotonic() - started


async def test_a_json_body_slower_than_the_minimum_rate_is_cut_with_408(
    service: Service, acme: Tenant
) -> None:
    status, body, seconds = await _stalled(
        service, "POST", "/v1/buckets/list", f"Bearer {acme.api_key}"
    )
    assert status == 408, body
    assert "BUCKETD_HTTP_BODY_MIN_BYTES_PER_SECOND" in str(body["error"]), body
    assert GRACE <= seconds < GRACE + 5


async def test_a_streamed_body_slower_than_the_minimum_rate_is_cut_with_408(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    status, body, seconds = await _stalled(service, "POST", STREAM, f"Bearer {acme.api_key}")
    assert status == 408, body
    assert body["success"] is False
    assert seconds < GRACE + 5


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/buckets/list"), ("POST", "/v1/buckets"), ("POST", STREAM)],
)
async def test_a_wrong_key_is_refused_before_the_body_is_read(
    service: Service, acme: Tenant, method: str, path: str
) -> None:
    wrong = acme.api_key[:-4] + ("aaaa" if not acme.api_key.endswith("aaaa") else "bbbb")
    for authorization in (f"Bearer {wrong}", "Bearer not-a-key"):
        status, body, seconds = await _stalled(service, method, path, authorization)
        assert status == 401, body
        assert seconds < 5, seconds  # a 408 (the body waited for) would be its rate's cut
