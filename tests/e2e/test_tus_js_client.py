"""A draft client nobody here wrote: tus-js-client (pinned in package.json, run by Node) speaks
draft-ietf-httpbis-resumable-upload-05 to the resumable route. Each upload of 50 MiB is aborted
mid-way and resumed as an application would (findPreviousUploads, resumeFromPreviousUpload):
from a Buffer (its last append says Upload-Complete: ?1) and from a file (it says ?0, and the
upload finishes by reaching its Upload-Length). The stored object's hash is the file's."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, digest, make_bucket

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("tus") / "abort_and_resume.mjs"
MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("source", "protocol"),
    [("buffer", "ietf-draft-05"), ("file", "ietf-draft-05"), ("file", "tus-v1")],
)
async def test_tus_js_client_resumes_an_aborted_upload(
    service: Service, acme: Tenant, tmp_path: Path, source: str, protocol: str
) -> None:
    assert (ROOT / "node_modules" / "tus-js-client").is_dir(), "run `make setup` (npm ci)"
    await make_bucket(service, acme)
    data = os.urandom(50 * MIB)
    (tmp_path / "big.bin").write_bytes(data)
    env = {
        **os.environ,
        "BUCKETD_HTTP_URL": service.http_url,
        "BUCKETD_API_KEY": acme.api_key,
        "BUCKETD_NAMESPACE": acme.namespace or "default",
        "FILE": str(tmp_path / "big.bin"),
        "SOURCE": source,
        "PROTOCOL": protocol,
        "ABORT_AFTER": str(20 * MIB),
        "URL_STORAGE": str(tmp_path / "urls.json"),
    }
    returncode, text = await _run_client(env, seconds=300)
    assert returncode == 0, text
    assert "aborted after" in text, text
    resumed_from = int(text.split("resumed from ")[1].split()[0])
    assert 0 < resumed_from < len(data), text  # bytes of the aborted append were kept
    if protocol == "tus-v1":  # tus's last answer is a 204: the bucket holds the one object
        _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
        (stored,) = listed["results"]
    else:
        stored = json.loads(text.strip().splitlines()[-1])
    assert stored["blobs"][0]["details"]["hash"] == digest(data)
    assert stored["blobs"][0]["details"]["size_bytes"] == len(data)
    if protocol == "tus-v1":  # tus 1.0 (its default): Upload-Metadata names the file
        async with service.http.get(
            f"/v1/buckets/things/objects/{stored['object_id']}", headers=acme.headers()
        ) as reply:
            details = (await reply.json())["blobs"][0]["details"]
        assert (details["filename"], details["mime_type"]) == ("big.bin", "text/plain")


@pytest.mark.parametrize("protocol", ["tus-v1", "ietf-draft-05"])
async def test_tus_js_client_uploads_data_during_creation(
    service: Service, acme: Tenant, tmp_path: Path, protocol: str
) -> None:
    """`uploadDataDuringCreation`: the creating POST carries the first chunk (tus's
    creation-with-upload; the draft's Upload-Complete: ?0 with a body of
    application/partial-upload, which is not the file's type), then PATCHes, an abort, a resume."""
    await make_bucket(service, acme)
    data = os.urandom(12 * MIB + 5)
    (tmp_path / "big.bin").write_bytes(data)
    env = {
        **os.environ,
        "BUCKETD_HTTP_URL": service.http_url,
        "BUCKETD_API_KEY": acme.api_key,
        "BUCKETD_NAMESPACE": acme.namespace or "default",
        "FILE": str(tmp_path / "big.bin"),
        "SOURCE": "buffer",
        "PROTOCOL": protocol,
        "ABORT_AFTER": str(6 * MIB),
        "URL_STORAGE": str(tmp_path / "urls.json"),
        "CHUNK_SIZE": str(4 * MIB),
        "DURING_CREATION": "1",
    }
    returncode, text = await _run_client(env, seconds=120)
    assert returncode == 0, text
    assert f"created with {4 * MIB} bytes" in text, text  # the POST's body was stored
    resumed_from = int(text.split("resumed from ")[1].split()[0])
    assert 4 * MIB <= resumed_from < len(data), text
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    (stored,) = listed["results"]
    details = stored["blobs"][0]["details"]
    assert details["hash"] == digest(data) and details["size_bytes"] == len(data)
    if protocol == "tus-v1":  # Upload-Metadata names the file
        assert (details["filename"], details["mime_type"]) == ("big.bin", "text/plain")


async def test_tus_js_client_ietf_draft_03_is_refused_at_creation(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    """A draft version bucketd does not speak fails its creation (400), not a later append."""
    await make_bucket(service, acme)
    (tmp_path / "small.bin").write_bytes(os.urandom(MIB))
    env = {
        **os.environ,
        "BUCKETD_HTTP_URL": service.http_url,
        "BUCKETD_API_KEY": acme.api_key,
        "BUCKETD_NAMESPACE": acme.namespace or "default",
        "FILE": str(tmp_path / "small.bin"),
        "SOURCE": "file",
        "PROTOCOL": "ietf-draft-03",
        "ABORT_AFTER": str(2 * MIB),
        "URL_STORAGE": str(tmp_path / "urls.json"),
    }
    returncode, text = await _run_client(env, seconds=120)
    assert returncode != 0, text
    assert "while creating upload" in text and "response code: 400" in text, text
    assert "is not spoken here" in text, text
    _, listed = await call(service, "POST", "/v1/buckets/things/objects/list", acme, {})
    assert listed["results"] == []


async def _run_client(env: dict[str, str], *, seconds: float) -> tuple[int | None, str]:
    """SCRIPT (tus-js-client) run under Node with `env`: its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=seconds)
    return process.returncode, output.decode(errors="replace")
