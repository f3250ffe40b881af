"""Cross-tenant probes: every route, with another organization's ids, must answer exactly as it
answers for ids that do not exist (same status, same message once the id is masked) — and never
with that organization's data or bytes, s3:// sources included."""

from __future__ import annotations

import re
from typing import Any

import grpc
import pytest
from grpc import aio

from bucketd.gateway.routes import Kind, Route, routes_from
from bucketd.server.settings import Settings
from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, b64, call, create, make_bucket
from tests.e2e.route_probes import probe

MISSING = {
    "namespace_identifier": "ns_missing00000000",
    "bucket_identifier": "bkt_missing0000000",
    "object_identifier": "obj_missing0000000",
    "upload_id": "upl_missing0000000",
    "task_id": "task_missing000000",
    "session_id": "ses_missing000000000",
    "blob": "doc",  # the object is missing: its blob, named as acme's is
}
_VARIABLE = re.compile(r"\{([a-z_]+)\}")


async def _acme_ids(service: Service, acme: Tenant) -> dict[str, str]:
    bucket = await make_bucket(service, acme)
    _, created = await create(
        service, acme, {"blobs": [{"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}]}
    )
    upload_body = {"filename": "a.pdf", "content_type": "application/pdf", "blob_property": "doc"}
    _, upload = await call(service, "POST", "/v1/buckets/things/uploads", acme, upload_body)
    _, namespace = await call(service, "GET", "/v1/namespaces/default", acme)
    confirmations = {"confirmations": [{"upload_id": upload["upload_id"]}]}
    _, batch = await call(
        service, "POST", "/v1/buckets/things/uploads/confirm/batch", acme, confirmations
    )
    resumable = {**acme.headers(), "Content-Type": "application/pdf", "Upload-Complete": "?0"}
    async with service.http.post(
        "/v1/buckets/things/objects/upload?property=doc", data=PDF[:4], headers=resumable
    ) as reply:
        assert reply.status == 201, await reply.text()
        session_id = reply.headers["Location"].rsplit("/", 1)[1].split(".")[0]  # no secret
    return {
        "session_id": session_id,
        "task_id": batch["task_id"],
        "namespace_identifier": namespace["namespace_id"],
        "bucket_identifier": bucket["bucket_id"],
        "object_identifier": created["object_id"],
        "upload_id": upload["upload_id"],
        "blob": "doc",
    }


def _mask(text: str, ids: list[str]) -> str:
    for value in ids:
        text = text.replace(value, "<id>")
    return text


async def _answer(
    service: Service, route: Route, path: str, headers: dict[str, str]
) -> tuple[int, str]:
    async with service.http.request(**probe(route, path, headers)) as reply:
        data: Any = await reply.json() if reply.status != 204 else None
        return reply.status, (data or {}).get("error", {}).get("message", "")


async def test_every_route_answers_a_foreign_id_like_a_missing_one(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    acme_ids = await _acme_ids(service, acme)
    await make_bucket(service, globex)  # globex's own bucket of the same name exists too
    probed, kinds = 0, set()
    for route in routes_from():
        names = _VARIABLE.findall(route.openapi_path)
        if not names:
            continue
        kinds.add(route.kind)
        foreign = route.openapi_path.format(**{n: acme_ids[n] for n in names})
        missing = route.openapi_path.format(**{n: MISSING[n] for n in names})
        for namespace in ("default", acme_ids["namespace_identifier"]):
            headers = globex.headers(namespace)
            got = await _answer(service, route, foreign, headers)
            expected = await _answer(service, route, missing, headers)
            assert got[0] == expected[0], (route.http_method, foreign, got, expected)
            ids = [*acme_ids.values(), *MISSING.values()]
            assert _mask(got[1], ids) == _mask(expected[1], ids), (foreign, got)
            assert got[0] >= 400, (route.http_method, foreign, got)
            probed += 1
    assert probed >= 42 and kinds == set(Kind)  # the upload routes are probed too
    # ... and acme still has everything, its upload session included
    status, _ = await call(
        service, "GET", f"/v1/buckets/things/objects/{acme_ids['object_identifier']}", acme
    )
    assert status == 200
    session = f"/v1/buckets/things/objects/upload/{acme_ids['session_id']}"
    async with service.http.head(session, headers=acme.headers()) as reply:
        assert (reply.status, reply.headers["Upload-Offset"]) == (204, "4")


async def test_a_foreign_session_answers_like_a_missing_one(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, globex)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    header = pb.UploadObjectHeader(
        bucket_identifier="things",
        blobs=[pb.UploadBlobHeader(property="doc", mime_type="application/pdf")],
    )
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=header), metadata=acme.metadata()
    )
    answers = []
    for session_id in (started.session_id, "ses_missing000000000"):
        with pytest.raises(aio.AioRpcError) as raised:
            await stub.GetUploadSession(
                pb.GetUploadSessionRequest(session_id=session_id), metadata=globex.metadata()
            )
        answers.append(
            (raised.value.code(), (raised.value.details() or "").replace(session_id, "<id>"))
        )
    assert answers[0] == answers[1] and answers[0][0] == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as resumed:
        await stub.UploadObject(
            iter(
                [
                    pb.UploadObjectRequest(
                        header=pb.UploadObjectHeader(session_id=started.session_id)
                    )
                ]
            ),
            metadata=globex.metadata(),
        )
    assert resumed.value.code() == grpc.StatusCode.NOT_FOUND


async def test_nobody_reads_bucketds_own_bytes_through_s3_sources(
    service: Service, acme: Tenant, globex: Tenant, settings: Settings
) -> None:
    await make_bucket(service, acme)
    await make_bucket(service, globex)
    _, created = await create(
        service, acme, {"blobs": [{"property": "doc", "type": "pdf", "data": {"base64": b64(PDF)}}]}
    )
    url = created["blobs"][0]["properties"]["url"]  # s3://<storage bucket>/<acme's key>
    answers = []
    for source in (url, url + "-missing", "s3://no-such-bucket-at-all/key"):
        status, reply = await create(
            service, globex, {"blobs": [{"property": "doc", "type": "pdf", "data": source}]}
        )
        answers.append((status, reply["error"]["message"].replace(source, "<source>")))
    assert {answer for answer in answers} == {answers[0]} and answers[0][0] == 422
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", globex, {})
    assert listed["results"] == []  # refused before anything was written
