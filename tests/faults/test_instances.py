"""Issue 14, several bucketd processes on one MongoDB and one S3: separate instances share keys,
revocations, idempotency, uploads and the janitor's work; `--workers N` shares the ports,
restarts a dead worker and drains them all on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from bucketd.server.settings import Settings
from tests.e2e.objects_support import PDF, PNG, b64
from tests.faults.processes import bucketd, environment, issue_key

SCHEMA = {"properties": {"image": {"type": "image"}, "doc": {"type": "pdf"}}}


async def _call(
    http: aiohttp.ClientSession, base: str, method: str, path: str, key: str, *, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    async with http.request(method, f"{base}{path}", json=body, headers=headers) as reply:
        return reply.status, (await reply.json() if reply.status != 204 else None)


def _revoke(env: dict[str, str], key: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bucketd", "keys", "revoke", key[:12]],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )


async def _janitor_work(http: aiohttp.ClientSession, base: str, kind: str) -> float:
    async with http.get(f"{base}/metrics") as reply:
        text = await reply.text()
    sample = f'bucketd_janitor_work_total{{kind="{kind}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(sample))


async def test_two_instances_share_one_database_and_one_store(settings: Settings) -> None:
    env = environment(
        settings,
        BUCKETD_KEY_CACHE_SECONDS="1",
        BUCKETD_SWEEP_SECONDS="0.3",
        BUCKETD_WRITE_LEASE_SECONDS="1",
    )
    key = issue_key(env, "acme")
    with bucketd(env) as one, bucketd(env) as two:
        async with aiohttp.ClientSession() as http:
            # a key made once works on both; a namespace and a bucket made on one exist on both
            assert (
                await _call(
                    http,
                    one.rest,
                    "POST",
                    "/v1/namespaces",
                    key,
                    body={"namespace_name": "default"},
                )
            )[0] == 200
            body = {"bucket_name": "b", "bucket_schema": SCHEMA}
            assert (await _call(http, two.rest, "POST", "/v1/buckets", key, body=body))[0] == 200
            assert (await _call(http, one.rest, "GET", "/v1/buckets/b", key))[0] == 200

            # idempotent retries spread over both make one object
            create = {
                "idempotency_key": "order-7",
                "blobs": [{"property": "image", "type": "image", "data": {"base64": b64(PNG)}}],
            }
            replies = await asyncio.gather(
                *(
                    _call(http, base, "POST", "/v1/buckets/b/objects", key, body=create)
                    for base in [one.rest, two.rest] * 4
                )
            )
            assert {status for status, _ in replies} == {200}
            assert len({reply["object_id"] for _, reply in replies}) == 1

            # a presigned upload created on one is confirmed on the other
            upload_body = {
                "filename": "a.pdf",
                "content_type": "application/pdf",
                "blob_property": "doc",
            }
            _, upload = await _call(
                http, one.rest, "POST", "/v1/buckets/b/uploads", key, body=upload_body
            )
            async with http.put(
                upload["presigned_url"], data=PDF, headers={"Content-Type": "application/pdf"}
            ) as put:
                assert put.status == 200
            status, confirmed = await _call(
                http,
                two.rest,
                "POST",
                f"/v1/buckets/b/uploads/{upload['upload_id']}/confirm",
                key,
                body={},
            )
            assert status == 200 and confirmed["status"] == "COMPLETED"

            # an abandoned write is reclaimed once, by one janitor or the other, never both
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)
            objects = client[settings.mongodb_database]["objects"]
            victim = await objects.find_one({})
            assert victim is not None
            stale = datetime.now(UTC) - timedelta(seconds=5)
            await objects.insert_one(
                {
                    **victim,
                    "_id": "obj_abandonedwrite00",
                    "status": "PROCESSING",
                    "blobs": [],
                    "write": {
                        "write_id": "wr_abandoned0000000",
                        "kind": "create",
                        "lease_until": stale,
                        "started_at": stale,
                        "new_object": True,
                        "pending": [],
                        "refs": [],
                    },
                }
            )
            deadline = time.monotonic() + 20
            while (await objects.find_one({"_id": "obj_abandonedwrite00"}) or {}).get(
                "status"
            ) != "FAILED":
                assert time.monotonic() < deadline, "no janitor reclaimed the write"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # a few more sweeps on both
            reclaimed = [
                await _janitor_work(http, base, "writes_reclaimed") for base in (one.rest, two.rest)
            ]
            assert sum(reclaimed) == 1, reclaimed
            await client.close()

            # a revoked key stops working on both within the cache time (1 s here)
            await asyncio.to_thread(_revoke, env, key)
            await asyncio.sleep(1.5)
            for base in (one.rest, two.rest):
                assert (await _call(http, base, "GET", "/v1/buckets/b", key))[0] == 401


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pids: list[str]) -> bool:
    return any(os.path.exists(f"/proc/{pid}") for pid in pids)


def _workers_of(supervisor: int) -> list[str]:
    return Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()


async def test_workers_share_the_ports_are_restarted_and_drain_together(settings: Settings) -> None:
    env = environment(settings, BUCKETD_SHUTDOWN_GRACE_SECONDS="3")
    key = issue_key(env, "acme")
    grpc_port, http_port = _free_port(), _free_port()
    args = ("--workers", "2", "--grpc-port", str(grpc_port), "--http-port", str(http_port))
    with bucketd(env, *args) as supervisor:
        base = supervisor.rest
        async with aiohttp.ClientSession() as http:
            await _call(
                http, base, "POST", "/v1/namespaces", key, body={"namespace_name": "default"}
            )
            workers = _workers_of(supervisor.process.pid)
            assert len(workers) == 2
            os.kill(int(workers[0]), signal.SIGKILL)
            deadline = time.monotonic() + 30
            while True:
                current = _workers_of(supervisor.process.pid)
                if len(current) == 2 and workers[0] not in current:
                    break
                assert time.monotonic() < deadline, "the dead worker was not restarted"
                await asyncio.sleep(0.2)
            deadline = time.monotonic() + 30
            while (await _call(http, base, "GET", "/v1/namespaces/default", key))[0] != 200:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            for _ in range(10):
                async with aiohttp.ClientSession() as fresh:
                    status, _ = await _call(fresh, base, "GET", "/v1/namespaces/default", key)
                assert status == 200
        started = time.monotonic()
        supervisor.signal(signal.SIGTERM)
        assert supervisor.process.wait(timeout=20) == 0
        assert time.monotonic() - started < 3 + 8
    assert not _alive(current)


def test_a_small_stream_chunk_limit_still_takes_http_and_client_uploads(
    settings: Settings, tmp_path: Path
) -> None:
    """BUCKETD_MAX_STREAM_CHUNK_BYTES below the 2 MiB bucketd sends by default: `bucketd serve`
    fits the gateway's chunks to it, and the client fits its own to the session's limits."""
    env = environment(settings, BUCKETD_MAX_STREAM_CHUNK_BYTES="65536")
    key = issue_key(env, "chunky")
    data = os.urandom(3 * 1024 * 1024 + 7)
    file = tmp_path / "big.pdf"
    file.write_bytes(b"%PDF-1.4\n" + data)
    with bucketd(env) as server:
        headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
        schema = {"bucket_name": "docs", "bucket_schema": {"properties": {"doc": {"type": "pdf"}}}}
        for path, body in (("namespaces", {"namespace_name": "default"}), ("buckets", schema)):
            request = urllib.request.Request(
                f"{server.rest}/v1/{path}", data=json.dumps(body).encode(), headers=headers
            )
            urllib.request.urlopen(request, timeout=30).close()
        upload = urllib.request.Request(
            f"{server.rest}/v1/buckets/docs/objects/upload?property=doc",
            data=file.read_bytes(),
            headers={**headers, "Content-Type": "application/pdf"},
        )
        with urllib.request.urlopen(upload, timeout=60) as reply:
            made = json.loads(reply.read())
        assert made["blobs"][0]["details"]["size_bytes"] == file.stat().st_size
        put = subprocess.run(
            [sys.executable, "-m", "bucketd", "put", str(file), "--bucket", "docs", "--json"],
            env={
                **env,
                "BUCKETD_ADDRESS": server.grpc,
                "BUCKETD_API_KEY": key,
                "BUCKETD_NAMESPACE": "default",
                "HOME": str(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert put.returncode == 0, put.stderr
        assert json.loads(put.stdout.splitlines()[-1])["object"]["blobs"][0]["details"][
            "size_bytes"
        ] == (file.stat().st_size)
