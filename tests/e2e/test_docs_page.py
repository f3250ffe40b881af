"""Issue 15: /docs in a real browser (Debian's headless Chromium): the page loads Swagger UI from
bucketd itself and renders every operation of the OpenAPI document."""

from __future__ import annotations

import asyncio
import re
import shutil

from tests.e2e.harness import Service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def test_the_docs_page_renders_the_operations_in_a_browser(service: Service) -> None:
    assert CHROMIUM, "the docs page is tested in Chromium: apt-get install chromium (.ci/run does)"
    async with service.http.get("/", allow_redirects=False) as reply:
        assert reply.status == 302 and reply.headers["Location"] == "/docs"
    async with service.http.get("/metrics") as reply:  # counted as what it is, not an error
        assert 'method="GET",route="/",status="302"' in await reply.text()
    async with service.http.get("/openapi.json") as reply:
        document = await reply.json()
    expected = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=15000",
        "--dump-dom",
        f"{service.http_url}/docs",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    dom, _ = await asyncio.wait_for(browser.communicate(), timeout=90)
    html = dom.decode()
    assert "swagger-ui" in html and "bucketd" in html
    rendered = set(
        re.findall(r'opblock-summary-method">(\w+)</span>.*?data-path="([^"]+)"', html, flags=re.S)
    )
    assert rendered == expected, sorted(expected - rendered)[:5]
