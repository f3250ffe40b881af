"""Issue 36 in a real browser: Debian's headless Chromium, driven by Playwright, on a page served
from another loopback origin than bucketd's, which BUCKETD_CORS_ORIGINS lists.

- fetch() with a key creates an object from the listed origin; from another origin the browser
  blocks it (fetch rejects with a TypeError) and nothing is created;
- tus-js-client's browser build, tus 1.0 (its default) and ietf-draft-05, 20 MiB each, on an
  upload URL the page's backend made with its key (the page holds none): the page is reloaded
  mid-upload and resumes from the offset bucketd kept (the URL kept in localStorage by
  tus-js-client); the object's SHA-256 is the file's;
- the presigned workflow: the page PUTs to the presigned URL (the storage bucket's CORS rules come
  from the same setting), the backend confirms;
- the complete page of docs/api.md ("Uploading from a web page") uploads a chosen file.

One Chromium serves the module (every test a fresh context of it), so the module's tests share
one event loop.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from tests.e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MIB,
    PAGE,
    TUS_BUILD,
    Backend,
    file_bytes,
    page_server,
    sha256,
)
from tests.e2e.harness import Service, Tenant, serving
from tests.e2e.objects_support import PDF, call, make_bucket
from tests.e2e.test_readme import blocks_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = TUS_BUILD.parents[3]
DOCS = ROOT / "docs" / "api.md"
SIZE = 20 * MIB
WORDS = 65_537  # the page's block of xorshift32 words: no chunk repeats another's bytes


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM, "the browser tests run Debian's Chromium: apt-get install chromium"
    assert TUS_BUILD.is_file(), "run `make setup` (npm ci): the page loads tus-js-client"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
def backend() -> Backend:
    return Backend()


def _docs_page() -> str:
    """docs/api.md's complete page as written, but for its tus-js-client URL (a CDN): the page
    server answers the same build from node_modules, so that nothing leaves the machine."""
    (page,) = [block.text for block in blocks_of(DOCS) if block.language == "html"]
    (script,) = re.findall(r'<script src="(https://[^"]+/tus\.min\.js)"', page)
    return page.replace(script, "/tus.min.js")


@pytest_asyncio.fixture(loop_scope="module")
async def page_port(backend: Backend) -> AsyncIterator[int]:
    async with page_server(backend, {"/": PAGE.read_text(), "/docs-page": _docs_page()}) as port:
        yield port


@pytest.fixture
def settings(settings: Settings, page_port: int) -> Settings:
    """bucketd lets the page's origin (127.0.0.1) in, not http://localhost on the same port."""
    return dataclasses.replace(settings, cors_origins=(f"http://127.0.0.1:{page_port}",))


@pytest_asyncio.fixture(loop_scope="module")
async def service(settings: Settings, gateway_settings: GatewaySettings) -> AsyncIterator[Service]:
    """As conftest's, on the module's event loop (the one the browser runs on)."""
    async with running_process(settings, gateway_settings) as process, serving(process) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="module")
async def acme(service: Service, backend: Backend) -> Tenant:
    tenant = await service.tenant("acme")
    backend.service, backend.tenant = service, tenant
    return tenant


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context()
    opened = await context.new_page()
    yield opened
    await context.close()


async def _objects(service: Service, tenant: Tenant) -> list[dict[str, Any]]:
    status, listed = await call(service, "POST", "/v1/buckets/things/objects/list", tenant, {})
    assert status == 200, listed
    return list(listed["results"])


async def test_fetch_with_a_key_works_from_the_listed_origin_only(
    service: Service, acme: Tenant, page: Page, page_port: int
) -> None:
    await make_bucket(service, acme)
    url = f"{service.http_url}/v1/buckets/things/objects"
    body = {"blobs": [{"property": "title", "type": "string", "data": "from a page"}]}
    arguments = [url, acme.api_key, acme.namespace, body]
    await page.goto(f"http://127.0.0.1:{page_port}/")
    made = await page.evaluate("(a) => window.callWithKey(...a)", arguments)
    assert made.get("status") == 200, made
    (stored,) = await _objects(service, acme)
    assert stored["object_id"] == made["body"]["object_id"]

    await page.goto(f"http://localhost:{page_port}/")  # the same page, from an origin not listed
    blocked = await page.evaluate("(a) => window.callWithKey(...a)", arguments)
    assert blocked == {"error": "TypeError", "message": "Failed to fetch"}, blocked
    assert [o["object_id"] for o in await _objects(service, acme)] == [stored["object_id"]]


@pytest.mark.parametrize("protocol", ["tus-v1", "ietf-draft-05"])
async def test_tus_js_client_resumes_after_a_reload(
    service: Service, acme: Tenant, page: Page, *, page_port: int, backend: Backend, protocol: str
) -> None:
    await make_bucket(service, acme)
    upload = {
        "protocol": protocol,
        "size": SIZE,
        "words": WORDS,
        "chunkSize": 3 * MIB,
        "cutAt": 6 * MIB,
    }
    await page.goto(f"http://127.0.0.1:{page_port}/")
    await page.evaluate("(u) => { window.tusUpload(u) }", upload)  # not awaited: cut below
    await page.wait_for_function("window.cutting === true")  # the third PATCH is on its way
    await page.reload()
    finished = await page.evaluate("(u) => window.tusUpload(u)", {**upload, "cutAt": SIZE + 1})
    assert finished["resumed"] == 1 and finished["url"] == backend.made[0], finished
    assert 6 * MIB <= finished["resumedFrom"] <= 9 * MIB, finished  # the offset bucketd kept
    assert "sk_" not in finished["url"] and len(backend.made) == 1
    (stored,) = await _objects(service, acme)
    details = stored["blobs"][0]["details"]
    assert details["size_bytes"] == SIZE
    assert details["hash"] == sha256(file_bytes(SIZE, WORDS))
    assert (details["filename"], details["mime_type"]) == ("big.bin", "text/plain")


async def test_a_page_puts_to_a_presigned_url_and_the_backend_confirms(
    service: Service, acme: Tenant, page: Page, page_port: int
) -> None:
    await make_bucket(service, acme)
    asked = {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    status, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, asked)
    assert status == 200, upload
    await page.goto(f"http://127.0.0.1:{page_port}/")
    arguments = [upload["presigned_url"], "application/pdf", PDF.decode()]
    put = await page.evaluate("(a) => window.putPresigned(...a)", arguments)
    assert put["status"] == 200 and put["etag"], put  # the page reads the ETag: exposed
    confirm = f"/v1/buckets/things/uploads/{upload['upload_id']}/confirm"
    status, confirmed = await call(service, "POST", confirm, acme, {"etag": put["etag"]})
    assert status == 200 and confirmed["status"] == "COMPLETED", confirmed
    (stored,) = await _objects(service, acme)
    assert stored["object_id"] == confirmed["object_id"]
    assert stored["blobs"][0]["details"]["hash"] == sha256(PDF)


async def test_the_docs_complete_page_uploads_a_chosen_file(
    service: Service, acme: Tenant, page: Page, page_port: int, tmp_path: Path
) -> None:
    """docs/api.md's page (`_docs_page`): a file chosen, the upload URL from the backend."""
    await make_bucket(service, acme)
    data = os.urandom(5 * MIB + 123)
    (tmp_path / "clip.txt").write_bytes(data)  # a path: Chromium reads it (bytes would be sent)
    await page.goto(f"http://127.0.0.1:{page_port}/docs-page")
    async with page.expect_event("dialog", timeout=30_000) as dialog_info:
        await page.set_input_files("#file", tmp_path / "clip.txt")
    dialog = await dialog_info.value
    assert dialog.message == "uploaded"
    await dialog.accept()
    (stored,) = await _objects(service, acme)
    details = stored["blobs"][0]["details"]
    assert details["hash"] == sha256(data) and details["size_bytes"] == len(data)
    assert (details["filename"], details["mime_type"]) == ("clip.txt", "text/plain")
