"""Issue 14, a bucketd process's life: SIGTERM drains in order (new calls refused with a
retryable 503, calls in flight finish within the grace, then are stopped with 503 and their
multipart uploads aborted); a taken port is one line and exit status 2 (no silent sharing);
the stand-ins die with their parent however it dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp

from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.settings import Settings
from tests.e2e.child_env import child_env
from tests.e2e.objects_support import multipart_uploads, s3_keys
from tests.faults.processes import bucketd, environment, issue_key, rest

MIB = 1024 * 1024
SCHEMA = {"properties": {"data": {"type": "text"}}}


def _setup(url: str, key: str) -> None:
    rest(url, "POST", "/v1/namespaces", key, {"namespace_name": "default"})
    rest(url, "POST", "/v1/buckets", key, {"bucket_name": "b", "bucket_schema": SCHEMA})


class _Trickle:
    """A request body sent 1 MiB at a time, at the pace the test sets."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()
        self.finish = asyncio.Event()

    async def body(self) -> AsyncIterator[bytes]:
        for index in range(10_000):
            yield os.urandom(MIB)
            if index == PART_BYTES // MIB:
                self.sent.set()  # more than one part: a multipart upload is open
            if self.finish.is_set():
                return
            await asyncio.sleep(0.05 if index < PART_BYTES // MIB else 0.3)


def _upload(
    http: aiohttp.ClientSession, url: str, key: str, trickle: _Trickle
) -> asyncio.Task[tuple[int, dict[str, Any]]]:
    async def send() -> tuple[int, dict[str, Any]]:
        async with http.post(
            f"{url}/v1/buckets/b/objects/upload?property=data&filename=big.txt",
            data=trickle.body(),
            headers={"Authorization": f"Bearer {key}", "X-Namespace": "default"},
        ) as reply:
            return reply.status, await reply.json()

    return asyncio.create_task(send())


async def _exited(process: subprocess.Popen[str], within: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(within):
        while process.poll() is None:  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_sigterm_refuses_new_calls_and_lets_a_stream_in_flight_finish(
    settings: Settings,
) -> None:
    env = environment(settings, BUCKETD_SHUTDOWN_GRACE_SECONDS="20")
    key = issue_key(env, "acme")
    trickle = _Trickle()
    with bucketd(env) as server:
        await asyncio.to_thread(_setup, server.rest, key)
        async with aiohttp.ClientSession() as http:
            upload = _upload(http, server.rest, key, trickle)
            await trickle.sent.wait()
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
            async with http.get(f"{server.rest}/v1/buckets/b", headers=headers) as refused:
                assert refused.status == 503 and refused.headers["Retry-After"] == "1"
                assert "shutting down" in (await refused.json())["error"]["message"]
            async with http.get(f"{server.rest}/readyz") as ready:
                assert ready.status == 503
            trickle.finish.set()
            status, stored = await upload
            assert status == 200, stored
            assert stored["status"] == "PENDING"
            assert await _exited(server.process, within=10) < 10
        assert server.process.returncode == 0


async def test_a_stream_still_running_after_the_grace_gets_503_and_is_aborted(
    settings: Settings,
) -> None:
    grace = 2.0
    env = environment(settings, BUCKETD_SHUTDOWN_GRACE_SECONDS=str(grace))
    key = issue_key(env, "acme")
    trickle = _Trickle()
    with bucketd(env) as server:
        await asyncio.to_thread(_setup, server.rest, key)
        async with aiohttp.ClientSession() as http:
            upload = _upload(http, server.rest, key, trickle)
            await trickle.sent.wait()
            assert await multipart_uploads(settings)
            started = time.monotonic()
            server.signal(signal.SIGTERM)
            status, answer = await upload
            assert status == 503, answer
            assert answer["error"]["type"] == "ServiceUnavailableError"
            assert "retry" in answer["error"]["message"]
            await _exited(server.process, within=grace + 10)
            assert time.monotonic() - started < grace + 8
    assert await multipart_uploads(settings) == []
    assert [key for key in await s3_keys(settings) if "/contents/" in key] == []


@contextlib.contextmanager
def _taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bucketd", "serve", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_taken_port_is_one_line_and_exit_status_2(settings: Settings) -> None:
    env = environment(settings)
    with _taken_port() as port:
        for flag, other in (("--grpc-port", "--http-port"), ("--http-port", "--grpc-port")):
            result = _serve(env, flag, str(port), other, "0")
            assert result.returncode == 2, result.stderr
            last = result.stderr.strip().splitlines()[-1]
            assert last.startswith("bucketd: cannot listen") and str(port) in last
            assert f"choose another with {flag}" in last
            assert "Traceback" not in result.stderr
            assert "Failed to add port" not in result.stderr  # gRPC core's own lines


def test_a_second_bucketd_never_shares_the_grpc_port_of_a_running_one(settings: Settings) -> None:
    env = environment(settings)
    with bucketd(env) as first:
        port = first.grpc.rsplit(":", 1)[1]
        result = _serve(env, "--grpc-port", port, "--http-port", "0")
    assert result.returncode == 2 and "cannot listen for gRPC" in result.stderr


def test_the_standins_die_with_bucketd_even_after_kill_9() -> None:
    env = child_env()
    with bucketd(env) as server:
        pid = server.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 2  # the MongoDB and the S3 stand-ins
        server.signal(signal.SIGKILL)
        server.process.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{child}").exists() for child in children):
        assert time.monotonic() < deadline, "a stand-in outlived bucketd"
        time.sleep(0.1)
