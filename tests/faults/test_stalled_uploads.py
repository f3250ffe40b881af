"""A streamed upload without any deadline is still bounded when S3 stalls (issue 39).

No `X-Request-Timeout`, no gRPC deadline: the gateway sets none for a stream (it may be long),
so S3's own limit must hold. The multipart upload's start and each part get at most
`BUCKETD_S3_PART_TIMEOUT_SECONDS`, retries included: S3 frozen (SIGSTOP) before the first byte or
in the middle of the body fails the stream within that limit, never after botocore's timeouts
and retries (20 s times 3 attempts by default). The part limit is set small here to see it.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket
from tests.faults.stalls import S3_KINDS, SLACK, bucketd, frozen, on_s3, own_s3

PART_SECONDS = 2.0
MIB = 1024 * 1024
UPLOAD = "/v1/buckets/things/objects/upload?property=notes&filename=n.txt"


async def _upload(
    service: Service, tenant: Tenant, body: Any, *, since: float = 0.0
) -> tuple[float, float, int, Any]:
    """A streamed HTTP upload with no X-Request-Timeout: (when it answered, `since`, status,
    body)."""
    async with service.http.post(UPLOAD, data=body, headers=tenant.headers()) as reply:
        return time.monotonic(), since, reply.status, await reply.json()


async def _frozen_midway(pid: int, marks: list[float]) -> AsyncIterator[bytes]:
    """A body of two parts and a bit: S3 is frozen once the first part is sent (its upload may
    land or not), so the second and the last are sent to a frozen S3; `marks` gets the time
    the body ended (the last part leaves then, and has the part limit from there)."""
    yield os.urandom(16 * MIB)
    os.kill(pid, signal.SIGSTOP)
    yield os.urandom(17 * MIB)
    marks.append(time.monotonic())


def _refused_in_time(answered: float, since: float, status: int, body: Any) -> None:
    assert answered - since <= PART_SECONDS + SLACK, (answered - since, status, body)
    assert status == 503 and body["error"]["message"], (status, body)


@S3_KINDS
async def test_a_streamed_upload_without_a_deadline_is_bounded_by_the_part_limit(
    settings: Settings, kind: str
) -> None:
    with own_s3(kind) as (url, pid, key):
        own = on_s3(settings, url, key, s3_part_timeout_seconds=PART_SECONDS)
        async with bucketd(own) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            small = b"notes\n" * 1000
            with frozen(pid):  # its first S3 call, CreateMultipartUpload, never answers
                started = time.monotonic()
                _refused_in_time(*await _upload(service, acme, small, since=started))
            marks: list[float] = []
            try:
                answered, _, status, body = await _upload(service, acme, _frozen_midway(pid, marks))
            finally:
                os.kill(pid, signal.SIGCONT)
            _refused_in_time(answered, marks[0], status, body)
            _, _, status, body = await _upload(service, acme, small)  # thawed: it succeeds
            assert status == 200, body
