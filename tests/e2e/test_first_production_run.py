"""The step after `make run`: real MongoDB and S3 (the suite's own), as an operator sets them.
A half configuration is refused with what to set, S3_BUCKET is an explicit choice, a first run
says how to make a key, and an unreachable store is named at once — in the log and in /readyz —
while clients read a plain message with the request id (tests/e2e/test_objects_outage.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bucketd.server.settings import Settings
from tests.e2e.child_env import child_env

SERVE = [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"]


def _refused(env: dict[str, str]) -> str:
    result = subprocess.run(SERVE, check=False, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def test_one_store_configured_is_refused_unless_the_stand_in_is_named(
    settings: Settings,
) -> None:
    assert settings.mongodb_uri and settings.s3_endpoint_url
    no_s3 = _refused(child_env(MONGODB_URI=settings.mongodb_uri))
    assert "S3_ENDPOINT_URL is not set" in no_s3 and "BUCKETD_STANDIN=s3" in no_s3
    assert "lose them at the next restart" in no_s3
    bucket = {"S3_BUCKET": settings.s3_bucket}
    no_mongo = _refused(child_env(S3_ENDPOINT_URL=settings.s3_endpoint_url, **bucket))
    assert "MONGODB_URI is not set" in no_mongo and "BUCKETD_STANDIN=mongodb" in no_mongo


def test_s3_bucket_is_an_explicit_choice(settings: Settings) -> None:
    assert settings.mongodb_uri and settings.s3_endpoint_url
    stderr = _refused(
        child_env(MONGODB_URI=settings.mongodb_uri, S3_ENDPOINT_URL=settings.s3_endpoint_url)
    )
    assert "S3_BUCKET is required with S3_ENDPOINT_URL" in stderr


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        SERVE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def _stderr_until(process: subprocess.Popen[str], needle: str, within: float = 60) -> str:
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if needle in line:
            return "".join(seen)
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{needle!r} never logged:\n{''.join(seen)}")


def test_a_first_production_run_says_how_to_make_a_key(settings: Settings) -> None:
    assert settings.mongodb_uri and settings.s3_endpoint_url
    env = child_env(
        MONGODB_URI=settings.mongodb_uri,
        MONGODB_DATABASE=f"{settings.mongodb_database}_first",
        S3_ENDPOINT_URL=settings.s3_endpoint_url,
        S3_BUCKET=f"{settings.s3_bucket}-first",
        AWS_ACCESS_KEY_ID=settings.aws_access_key_id or "",
        AWS_SECRET_ACCESS_KEY=settings.aws_secret_access_key or "",
    )
    with _serving(env) as process:
        log = _stderr_until(process, "no API key exists yet")
    assert "bucketd keys create --org NAME" in log


def test_an_unreachable_store_is_named_at_once(settings: Settings) -> None:
    """MongoDB on a port nobody listens on: the first check's warning names it, /readyz too."""
    assert settings.s3_endpoint_url
    env = child_env(
        MONGODB_URI="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
        S3_ENDPOINT_URL=settings.s3_endpoint_url,
        S3_BUCKET=settings.s3_bucket,
        AWS_ACCESS_KEY_ID=settings.aws_access_key_id or "",
        AWS_SECRET_ACCESS_KEY=settings.aws_secret_access_key or "",
    )
    started = time.monotonic()
    with _serving(env) as process:
        assert process.stdout is not None
        rest = [process.stdout.readline() for _ in range(2)][1].removeprefix("REST: ").strip()
        _stderr_until(process, "not ready: MongoDB")
        assert time.monotonic() - started < 12  # at once, not after a server selection timeout
        with pytest.raises(urllib.error.HTTPError) as not_ready:
            urllib.request.urlopen(f"{rest}/readyz", timeout=10)
        body = not_ready.value.read().decode()
    assert not_ready.value.code == 503 and "MongoDB not answering" in body
    assert "S3" not in body.split("not answering")[0].split("(")[-1]
