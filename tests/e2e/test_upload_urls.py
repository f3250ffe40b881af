"""Issue 36: an upload session's URL is a capability. A backend opens the session with its key;
HEAD, PATCH and DELETE on the URL (Location) need no key and work for that one session only,
until it completes, is cancelled or expires. A wrong, missing or another session's secret, or a
finished session, answers exactly as a missing session does (404), and nothing is appended. The
secret is never logged nor a metrics label."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from grpc import aio

from bucketd.v1 import objects_pb2 as pb
from bucketd.v1 import objects_pb2_grpc
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket

CREATE = "/v1/buckets/things/objects/upload?property=notes&filename=a.txt"
APPEND = {"Content-Type": "application/partial-upload", "Upload-Complete": "?0"}


async def _session(service: Service, acme: Tenant, first: bytes = b"hello ") -> str:
    """A backend's session (its key), with its first bytes: the upload URL."""
    headers = {**acme.headers(), "Content-Type": "text/plain", "Upload-Complete": "?0"}
    async with service.http.post(CREATE, data=first, headers=headers) as reply:
        assert reply.status == 201, await reply.text()
        return reply.headers["Location"]


async def _offset(service: Service, url: str) -> tuple[int, str | None]:
    async with service.http.head(url) as reply:
        return reply.status, reply.headers.get("Upload-Offset")


async def _answer(service: Service, method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    async with service.http.request(method, url, **kwargs) as reply:
        body = (await reply.json() or {}) if reply.status >= 400 and method != "HEAD" else {}
        return reply.status, body.get("error", {}).get("message", "")


async def test_the_upload_url_needs_no_key_for_its_session_only(
    service: Service, acme: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await make_bucket(service, acme)
    url = await _session(service, acme)
    other = await _session(service, acme)
    session_id, secret = url.rsplit("/", 1)[1].split(".")
    assert len(secret) >= 22  # ≥ 128 bits of token_urlsafe
    assert await _offset(service, url) == (204, "6")
    headers = {**APPEND, "Upload-Offset": "6"}
    assert (await _answer(service, "PATCH", url, data=b"world", headers=headers))[0] == 204

    missing = url.replace(session_id, "ses_missing000000000")
    base = url.rsplit(".", 1)[0]
    wrong = [
        f"{base}.{'A' * len(secret)}",  # a wrong secret
        base,  # none
        f"{base}.{other.rsplit('.', 1)[1]}",  # another session's
    ]
    for method in ("HEAD", "PATCH", "DELETE"):
        headers = {**APPEND, "Upload-Offset": "11"}
        expected = await _answer(service, method, missing, data=b"!", headers=headers)
        assert expected[0] == 404
        for attempt in wrong:
            status, message = await _answer(service, method, attempt, data=b"!", headers=headers)
            assert status == 404, (attempt, method)
            masked = expected[1].replace("ses_missing000000000", session_id)
            assert message == masked, (attempt, method)
    assert await _offset(service, url) == (204, "11")  # nothing was appended

    done = {"Content-Type": "application/partial-upload", "Upload-Complete": "?1"}
    async with service.http.patch(url, data=b"!", headers={**done, "Upload-Offset": "11"}) as reply:
        assert reply.status == 200, await reply.text()
        assert (await reply.json())["blobs"][0]["details"]["size_bytes"] == 12
    # completed: the URL is no capability any more, and nothing more is appended
    assert (await _offset(service, url))[0] == 404
    after = {**done, "Upload-Offset": "12"}
    assert (await _answer(service, "PATCH", url, data=b"?", headers=after))[0] == 404
    # the key still finds the finished upload
    async with service.http.head(base, headers=acme.headers()) as reply:
        assert (reply.status, reply.headers["Upload-Offset"]) == (204, "12")

    assert (await _answer(service, "DELETE", other))[0] == 204  # cancelled, without a key
    assert (await _offset(service, other))[0] == 404

    async with service.http.get("/metrics") as reply:
        assert secret not in await reply.text()
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in str(vars(record)), record


async def test_grpc_callers_hold_the_secret_instead_of_a_key(
    service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    stub = objects_pb2_grpc.ObjectServiceStub(service.channel)
    header = pb.UploadObjectHeader(
        bucket_identifier="things", blobs=[pb.UploadBlobHeader(property="notes")]
    )
    started = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=header), metadata=acme.metadata()
    )
    other = await stub.StartUploadSession(
        pb.StartUploadSessionRequest(header=header), metadata=acme.metadata()
    )
    held = (("x-upload-session", started.session_id), ("x-upload-secret", started.upload_secret))
    status = await stub.GetUploadSession(
        pb.GetUploadSessionRequest(session_id=started.session_id), metadata=held
    )
    assert status.blobs[0].persisted_size == 0
    with pytest.raises(aio.AioRpcError) as raised:  # the URL names one session only
        await stub.GetUploadSession(
            pb.GetUploadSessionRequest(session_id=other.session_id), metadata=held
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(aio.AioRpcError) as raised:  # and no other call
        await stub.StartUploadSession(pb.StartUploadSessionRequest(header=header), metadata=held)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    chunk = pb.BlobChunk(blob_index=0, write_offset=0, data=b"abc")
    messages = [
        pb.UploadObjectRequest(header=pb.UploadObjectHeader(session_id=started.session_id)),
        pb.UploadObjectRequest(chunk=chunk),
    ]
    made = await stub.UploadObject(iter(messages), metadata=held)
    assert made.object.blobs[0].details.size_bytes == 3
