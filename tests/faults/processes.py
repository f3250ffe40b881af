"""`bucketd serve` as a real child process on the test's MongoDB and S3, to kill, stop and
restart; and a tenant made the way an operator makes one (`bucketd keys create`, then REST)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from bucketd.server.settings import Settings
from tests.e2e.child_env import child_env

START_SECONDS = 60


@dataclass
class Bucketd:
    process: subprocess.Popen[str]
    grpc: str
    rest: str

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The variables that point a child bucketd at the test's servers, database and bucket."""
    return child_env(
        MONGODB_URI=settings.mongodb_uri or "",
        MONGODB_DATABASE=settings.mongodb_database,
        S3_ENDPOINT_URL=settings.s3_endpoint_url or "",
        S3_BUCKET=settings.s3_bucket,
        AWS_ACCESS_KEY_ID=settings.aws_access_key_id or "test",
        AWS_SECRET_ACCESS_KEY=settings.aws_secret_access_key or "test",
        AWS_REGION=settings.aws_region,
        **extra,
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def bucketd(env: dict[str, str], *args: str) -> Iterator[Bucketd]:
    """A running `bucketd serve` (on free ports unless `args` name them), healthy; killed on
    exit if still alive."""
    ports = ["--grpc-port", "0", "--http-port", "0"] if not args else []
    with subprocess.Popen(
        [sys.executable, "-m", "bucketd", "serve", *ports, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            grpc = process.stdout.readline().split()[-1]
            rest = process.stdout.readline().split()[-1]
            deadline = time.monotonic() + START_SECONDS
            while not _healthy(rest):  # a health check, not a guess
                assert process.poll() is None, "bucketd exited"
                assert time.monotonic() < deadline, "bucketd never became healthy"
                time.sleep(0.1)
            yield Bucketd(process, grpc, rest)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def issue_key(env: dict[str, str], organization: str) -> str:
    """`bucketd keys create --org …`: the key is the last line it prints."""
    result = subprocess.run(
        [sys.executable, "-m", "bucketd", "keys", "create", "--org", organization, "--test"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    return result.stdout.strip().splitlines()[-1]


def rest(url: str, method: str, path: str, key: str, body: object = None) -> object:
    request = urllib.request.Request(
        f"{url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {key}", "X-Namespace": "default"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read() or b"null")
