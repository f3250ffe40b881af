"""SSRF probes: a trap listens on loopback; every spelling of its address, directly or through a
redirect from an allowed host, must be refused before a single connection reaches it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import create, make_bucket


@dataclasses.dataclass
class Trap:
    port: int
    connections: int = 0


@contextlib.asynccontextmanager
async def _trap() -> AsyncIterator[Trap]:
    """A TCP listener on 127.0.0.1 that counts whoever connects (and answers nothing)."""
    trap = Trap(port=0)

    async def caught(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        trap.connections += 1
        writer.close()

    server = await asyncio.start_server(caught, "127.0.0.1", 0)
    trap.port = server.sockets[0].getsockname()[1]
    async with server:
        yield trap


@contextlib.asynccontextmanager
async def _redirector(target: str) -> AsyncIterator[str]:
    """An allowed host (127.0.0.2, allow-listed below) that redirects to `target`."""

    async def redirect(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_get("/{tail:.*}", redirect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.2:{port}/go"
    finally:
        await runner.cleanup()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Only 127.0.0.2 (the redirector) is allowed; the trap's 127.0.0.1 is not."""
    return dataclasses.replace(settings, fetch_allowlist=("127.0.0.2/32",))


SPELLINGS = (
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "localhost",
    "[::ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "0.0.0.0",
    "[::]",
    "[::1]",
    # Unicode spellings that yarl (and so aiohttp) maps to the ASCII address (issue 27)
    "127\uff0e0\uff0e0\uff0e1",  # fullwidth full stops
    "127\u30020\u30020\u30021",  # ideographic full stops
    "127\uff610\uff610\uff611",  # halfwidth ideographic full stops
    "\u2460\u2461\u2466.0.0.1",  # circled digits
    "\uff11\uff12\uff17.0.0.1",  # fullwidth digits
    "\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11",  # fullwidth, all of it
    "\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3",  # circled "localhost"
    "LOCALHOST",
    "localhost.",
    "127.0.0.1.",
    "\U0001d7cf\U0001d7d0\U0001d7d5.0.0.1",  # mathematical bold digits
)


async def test_no_spelling_of_a_private_address_reaches_it(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    async with _trap() as trap:
        tried = 0
        for host in SPELLINGS:
            url = f"http://{host}:{trap.port}/secret"
            status, reply = await create(
                service, acme, {"blobs": [{"property": "notes", "type": "text", "data": url}]}
            )
            assert status == 422, (url, reply)
            message = reply["error"]["message"]
            refusals = (
                "private, loopback or link-local",
                "cannot resolve",
                "not a canonical",
                "is not a URL bucketd can fetch",
            )
            assert any(refusal in message for refusal in refusals), message
            tried += 1
        async with _redirector(f"http://127.0.0.1:{trap.port}/secret") as hop:
            status, reply = await create(
                service, acme, {"blobs": [{"property": "notes", "type": "text", "data": hop}]}
            )
            assert status == 422 and "private, loopback" in reply["error"]["message"], reply
            tried += 1
        assert tried == len(SPELLINGS) + 1
        assert trap.connections == 0
