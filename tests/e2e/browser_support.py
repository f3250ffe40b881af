"""What the browser tests share: the page server (another loopback origin than bucketd's, with
the page's "backend", which holds the API key and makes upload URLs), the file's bytes, and
Chromium from Debian driven by Playwright (never a browser Playwright downloads)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import shutil
import sys
from array import array
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.e2e.harness import Service, Tenant

ROOT = Path(__file__).resolve().parents[2]
PAGE = Path(__file__).with_name("browser") / "uploads.html"
TUS_BUILD = ROOT / "node_modules" / "tus-js-client" / "dist" / "tus.min.js"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags Chromium runs with here (a container without a sandbox or a GPU; no traffic of its
# own: every request it makes is the page's, to loopback).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEED = 2463534242
MIB = 1024 * 1024


def file_bytes(size: int, words: int) -> bytes:
    """The bytes uploads.html's fileBytes makes: `words` xorshift32 words, repeated to `size`."""
    block, x = array("I"), SEED
    for _ in range(words):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        block.append(x)
    if sys.byteorder != "little":
        block.byteswap()
    pattern = block.tobytes()
    return (pattern * (size // len(pattern) + 1))[:size]


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass
class Backend:
    """The page's backend: bucketd's address and the key it makes upload URLs with (set once
    bucketd runs: it starts after the page server, whose origin it must know)."""

    service: Service | None = None
    tenant: Tenant | None = None
    made: list[str] = field(default_factory=list)

    async def upload_url(self, request: web.Request) -> web.Response:
        """POST {protocol, filename, size, type}: a tus or IETF-draft upload of bucket `things`,
        made with the key; the answer is the upload URL, all the page gets."""
        assert self.service is not None and self.tenant is not None
        asked = await request.json()
        headers = {**self.tenant.headers(), "Upload-Length": str(asked["size"])}
        if asked.get("protocol", "tus-v1") == "tus-v1":
            pairs = [("filename", asked["filename"]), ("filetype", asked["type"])]
            metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs)
            headers |= {"Tus-Resumable": "1.0.0", "Upload-Metadata": metadata}
        else:  # the draft: an upload of no bytes yet, the file's type its Content-Type
            headers |= {"Upload-Complete": "?0", "Content-Type": asked["type"]}
        path = f"/v1/buckets/things/objects/upload?property=notes&filename={asked['filename']}"
        async with self.service.http.post(path, headers=headers) as reply:
            assert reply.status == 201, await reply.text()
            url = f"{self.service.http_url}{reply.headers['Location']}"
        self.made.append(url)
        return web.Response(text=url)


@contextlib.asynccontextmanager
async def page_server(backend: Backend, pages: dict[str, str]) -> AsyncIterator[int]:
    """The pages (path -> HTML), tus-js-client's browser build and the backend, on 127.0.0.1
    (so also http://localhost:<port>, another origin): yields the port."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.path], content_type="text/html")

    async def tus_build(_: web.Request) -> web.FileResponse:
        return web.FileResponse(TUS_BUILD)

    app = web.Application()
    for path in pages:
        app.router.add_get(path, page)
    app.router.add_get("/tus.min.js", tus_build)
    app.router.add_post("/upload-url", backend.upload_url)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
