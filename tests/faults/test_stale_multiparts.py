"""The janitor aborts multipart uploads nobody names once they are old (issue 39).

A stalled S3 may run a CreateMultipartUpload it queued while frozen after its caller gave up and
cleaned up (docs/operating.md): no record names that upload, so no write's clean-up aborts it.
The janitor lists the storage bucket's multipart uploads and aborts those older than
`BUCKETD_MULTIPART_MAX_AGE_SECONDS` that no write in flight names; a live session's is kept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest

from bucketd.server.settings import Settings
from bucketd.server.storage.s3 import open_s3
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import make_bucket, multipart_uploads

CREATE = "/v1/buckets/things/objects/upload?property=notes&filename=big.txt"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, multipart_max_age_seconds=0.001)


async def _session(service: Service, tenant: Tenant, body: bytes) -> str:
    """A resumable upload left open after its first bytes: its location."""
    headers = {**tenant.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    async with service.http.post(CREATE, data=body, headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        return reply.headers["Location"]


async def test_a_stale_multipart_upload_nobody_names_is_aborted_a_live_one_kept(
    settings: Settings, service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    first, rest = os.urandom(1000), os.urandom(1000)
    location = await _session(service, acme, first)
    live = await multipart_uploads(settings)
    assert len(live) == 1, live
    async with open_s3(settings) as s3:
        await s3.create_multipart_upload(Bucket=settings.s3_bucket, Key="orphan/left-by-a-stall")
    assert sorted(await multipart_uploads(settings)) == sorted([*live, "orphan/left-by-a-stall"])

    async def swept() -> bool:
        await service.services.janitor.sweep()
        return await multipart_uploads(settings) == live

    await until(swept, within=10)
    headers = {
        **acme.headers(),
        "Content-Type": "application/partial-upload",
        "Upload-Offset": str(len(first)),
        "Upload-Complete": "?1",
    }
    async with service.http.patch(location, data=rest, headers=headers) as reply:
        assert reply.status == 200, await reply.text()
        made = await reply.json()
    assert (
        made["blobs"][0]["details"]["hash"] == "sha256:" + hashlib.sha256(first + rest).hexdigest()
    )
