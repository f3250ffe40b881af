"""Helpers of the stalled-store tests: a store of the test's own to freeze with SIGSTOP, and
bucketd run on it as `bucketd serve` runs it."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.standins import ceph
from bucketd.standins.launch import s3_server
from tests.e2e.harness import Service, serving

DEADLINE = 3.0  # each call's, while a store is frozen (X-Request-Timeout, gRPC's timeout)
SLACK = 1.0  # the answer comes no later than the deadline plus this

# Each S3 a test runs against: moto, and Ceph's RGW where its packages are installed.
S3_KINDS = pytest.mark.parametrize(
    "kind",
    [
        "moto",
        pytest.param(
            "rgw",
            marks=pytest.mark.skipif(not ceph.available(), reason="Ceph's packages not installed"),
        ),
    ],
)


def quick(settings: Settings, **changes: Any) -> Settings:
    """Short leases, sweeps and multipart age, so that the janitor's hand-off is seen within the
    test; the S3 and MongoDB client limits keep their production defaults (the deadline must
    bound them)."""
    return dataclasses.replace(
        settings,
        readiness_seconds=0.2,
        cleanup_seconds=2.0,
        write_lease_seconds=3.0,
        sweep_seconds=0.5,
        multipart_max_age_seconds=2.0,
        **changes,
    )


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def own_s3(kind: str) -> Iterator[tuple[str, int, str]]:
    """An S3 of this test's own: its endpoint, the PID to freeze, its access key."""
    if kind == "rgw":
        with ceph.ceph_s3() as s3:
            yield s3.url, s3.pids[-1], s3.access_key  # the gateway is started last
    else:
        with s3_server() as moto:
            yield moto.url, moto.process.pid, "test"


def on_s3(settings: Settings, url: str, key: str, **changes: Any) -> Settings:
    """`quick` settings on the S3 at `url` (its access key is its secret too)."""
    return quick(
        settings, s3_endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=key, **changes
    )


@contextlib.asynccontextmanager
async def bucketd(settings: Settings) -> AsyncIterator[Service]:
    async with running_process(settings, GatewaySettings()) as process, serving(process) as up:
        yield up
