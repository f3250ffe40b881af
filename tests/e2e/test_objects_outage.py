"""S3 going away mid-test: the object ends FAILED with an error, never PENDING without bytes."""

from __future__ import annotations

import contextlib
import dataclasses

from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.standins.launch import s3_standin
from tests.e2e.harness import serving
from tests.e2e.objects_support import PDF, PNG, b64, call, create, make_bucket


async def test_s3_outage_leaves_failed_objects_only(settings: Settings) -> None:
    with contextlib.ExitStack() as standin:
        endpoint = standin.enter_context(s3_standin())
        own = dataclasses.replace(settings, s3_endpoint_url=endpoint)
        async with running_process(own) as process, serving(process) as service:
            acme = await service.tenant("acme")
            await make_bucket(service, acme)
            status, stored = await create(
                service,
                acme,
                {"blobs": [{"property": "image", "type": "image", "data": {"base64": b64(PNG)}}]},
            )
            assert status == 200 and stored["status"] == "PENDING"

            standin.close()  # the S3 server stops here
            status, failed = await create(
                service,
                acme,
                {"blobs": [{"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}]},
            )
            assert status == 503, failed
            assert failed["error"]["type"] == "ServiceUnavailableError"
            # which store and the request id; never its endpoint, key layout or driver's words
            message = failed["error"]["message"]
            assert message.startswith("S3 is unavailable right now: retry shortly (request id ")
            assert endpoint.split("//")[1] not in str(failed) and "contents/" not in str(failed)
            _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
            by_id = {o["object_id"]: o for o in listed["results"]}
            assert by_id.pop(stored["object_id"])["status"] == "PENDING"
            (broken,) = by_id.values()
            assert broken["status"] == "FAILED"
            assert broken["error"] == "S3 is unavailable right now: retry shortly"
            assert broken["blobs"] == []
