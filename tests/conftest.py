"""Test harness: real MongoDB-wire and S3 servers over sockets, and bucketd on top of them.

The stand-ins (mongoeco's wire server, moto's S3 server) start once per session in their own
processes, unless MONGODB_URI / S3_ENDPOINT_URL point at servers to use instead. Every test gets
its own database and its own S3 bucket names, and its own bucketd (`service`) — except in the
modules that share one bucketd between their tests (tests/shared_service.py), where every test
gets organizations of its own instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from bucketd.standins import ceph
from bucketd.standins.launch import mongo_standin, s3_standin
from tests.e2e.harness import Service, Tenant, serving
from tests.s3_choice import s3_kind


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    configured = os.environ.get("MONGODB_URI")
    if configured:
        yield configured
        return
    with mongo_standin() as uri:
        yield uri


def pytest_report_header() -> str:
    kind = s3_kind()
    described = {
        "configured": f"S3_ENDPOINT_URL={os.environ.get('S3_ENDPOINT_URL')}",
        "rgw": "Ceph RADOS Gateway (one-node cluster, started for this session)",
        "moto": "moto's S3 server (a stand-in: install radosgw ceph-mon ceph-osd for a real S3)",
    }
    return f"S3 for this session: {described[kind]}"


@pytest.fixture(scope="session")
def s3_endpoint_url() -> Iterator[str]:
    kind = s3_kind()
    if kind == "configured":
        yield os.environ["S3_ENDPOINT_URL"]
    elif kind == "rgw":
        with ceph.ceph_s3() as s3:
            yield s3.url
    else:
        with s3_standin() as endpoint:
            yield endpoint


@pytest.fixture
def unique_name() -> str:
    """A short name no other test uses: for databases and S3 buckets."""
    return f"t{uuid.uuid4().hex[:16]}"


def isolated_settings(mongodb_uri: str, s3_endpoint_url: str, name: str) -> Settings:
    """Settings on the shared servers with a database and an internal S3 bucket of their own."""
    return Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=f"bucketd_{name}",
        s3_endpoint_url=s3_endpoint_url,
        s3_bucket=f"bucketd-{name}",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        aws_region=os.environ.get("AWS_REGION", "us-east-1"),
        shutdown_grace_seconds=2.0,
        # Tests call the janitor themselves; the server's own periodic sweep must not race them.
        sweep_seconds=3600.0,
        # Unheld bytes go at the next sweep the tests run (tests/unit/test_pipeline.py tests the
        # grace).
        blob_grace_seconds=0.0,
    )


@pytest.fixture
def settings(mongodb_uri: str, s3_endpoint_url: str, unique_name: str) -> Settings:
    """Settings for one test: its own database and internal S3 bucket on the shared servers."""
    return isolated_settings(mongodb_uri, s3_endpoint_url, unique_name)


@pytest.fixture(scope="module")
def module_settings(mongodb_uri: str, s3_endpoint_url: str) -> Settings:
    """Settings for the one bucketd of a module that shares it (tests/shared_service.py)."""
    return isolated_settings(mongodb_uri, s3_endpoint_url, f"m{uuid.uuid4().hex[:16]}")


@pytest.fixture(scope="module")  # a module that shares one bucketd shares these
def gateway_settings() -> GatewaySettings:
    return GatewaySettings()


@pytest.fixture
async def service(settings: Settings, gateway_settings: GatewaySettings) -> AsyncIterator[Service]:
    """bucketd as `bucketd serve` runs it (bucketd/process.py), with a gRPC channel to it."""
    async with running_process(settings, gateway_settings) as process, serving(process) as served:
        yield served


@pytest.fixture
async def acme(service: Service) -> Tenant:
    """Organization A, with namespace `default`."""
    return await service.tenant("acme")


@pytest.fixture
async def globex(service: Service) -> Tenant:
    """Organization B, with its own namespace `default`: same name, another organization."""
    return await service.tenant("globex")
