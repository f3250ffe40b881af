"""Creates that carry bytes in a blob's data object (`{"base64": …}`, `{"url": …}`,
`{"text": …}`, any other JSON object or list, stored as the blob's bytes) take an upload slot as
a bare string does: a 10 MiB inline blob is held in
memory like a part of a stream, so past the cap it is refused at once too (found by
bench.load: its inline creates never met admission)."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, make_bucket
from tests.faults.test_admission import HeldUpload, _held

OBJECTS = "/v1/buckets/things/objects"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_uploads=1, max_uploads_org_fraction=1)


def _create(data: object) -> dict[str, object]:
    return {"blobs": [{"property": "notes", "type": "text", "data": data}]}


async def test_inline_bytes_in_an_object_take_a_slot(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    held = HeldUpload(service, acme, b"first " * 1000, b"rest")
    await _held(service, 1)

    encoded = base64.b64encode(b"inline bytes").decode()
    for data in (
        {"base64": encoded, "mime_type": "text/plain"},
        {"text": "some text"},
        {"url": "https://example.invalid/a.txt"},  # refused before any fetch
        f"data:text/plain;base64,{encoded}",
        {"any": "JSON object, stored as the blob's bytes"},
        ["a", "JSON", "list"],
    ):
        status, answer = await call(service, "POST", OBJECTS, acme, _create(data))
        assert status == 503, (data, answer)
        assert "BUCKETD_MAX_UPLOADS" in answer["error"]["message"]
    status, answer = await call(service, "POST", OBJECTS, acme, {"title": "no bytes"})
    assert status == 200, answer  # a create without bytes holds no slot

    await held.finished()
    await _held(service, 0)
    body = _create({"base64": encoded, "mime_type": "text/plain"})
    status, answer = await call(service, "POST", OBJECTS, acme, body)
    assert status == 200, answer
