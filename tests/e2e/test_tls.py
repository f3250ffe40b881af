"""Issue 14: TLS on both listeners, and mutual TLS on gRPC, with a CA made at test time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import trustme
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bucketd.client import AsyncClient, Unavailable
from bucketd.client.retries import RetryPolicy
from bucketd.config import SettingsError
from bucketd.process import Process, running_process
from bucketd.server.settings import Settings
from bucketd.tls import TlsFiles
from bucketd.v1 import namespaces_pb2, namespaces_pb2_grpc
from tests.e2e.child_env import child_env
from tests.e2e.harness import make_tenant, wait_until_serving


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(authority: trustme.CA, tmp_path: Path) -> Iterator[dict[str, str]]:
    server = authority.issue_cert("localhost", "127.0.0.1")
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    server.private_key_pem.write_to_path(str(key))
    server.cert_chain_pems[0].write_to_path(str(cert))
    authority.cert_pem.write_to_path(str(ca))
    yield {"tls_cert_file": str(cert), "tls_key_file": str(key), "ca": str(ca)}


@contextlib.asynccontextmanager
async def _serve(
    settings: Settings, files: dict[str, str], client_ca: str | None = None
) -> AsyncIterator[Process]:
    tls_settings = dataclasses.replace(
        settings,
        tls_cert_file=files["tls_cert_file"],
        tls_key_file=files["tls_key_file"],
        tls_client_ca_file=client_ca,
    )
    async with running_process(tls_settings) as process:
        await process.wait_ready()
        yield process


def _channel(address: str, ca: str, client: trustme.LeafCert | None = None) -> aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(ca).read_bytes(),
        private_key=client.private_key_pem.bytes() if client else None,
        certificate_chain=client.cert_chain_pems[0].bytes() if client else None,
    )
    return aio.secure_channel(address.replace("127.0.0.1", "localhost"), credentials)


async def test_both_listeners_speak_tls_only(settings: Settings, tls_files: dict[str, str]) -> None:
    async with _serve(settings, tls_files) as server:
        address, url = server.address, server.url
        assert url.startswith("https://")
        async with _channel(address, tls_files["ca"]) as channel:
            await wait_until_serving(channel)
            tenant = await make_tenant(server.services, "acme")
            stub = namespaces_pb2_grpc.NamespaceServiceStub(channel)
            listed = await stub.ListNamespaces(
                namespaces_pb2.ListNamespacesRequest(), metadata=tenant.metadata()
            )
            assert [n.namespace_name for n in listed.results] == ["default"]
        async with aio.insecure_channel(address) as plain:
            with pytest.raises(aio.AioRpcError):
                await health_pb2_grpc.HealthStub(plain).Check(
                    health_pb2.HealthCheckRequest(), timeout=3
                )
        trusted = ssl.create_default_context(cafile=tls_files["ca"])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz", ssl=trusted) as reply:
                assert reply.status == 200
            with pytest.raises(aiohttp.ClientError):
                async with http.get(url.replace("https://", "http://") + "/readyz") as reply:
                    await reply.read()


async def test_the_python_client_speaks_tls_when_asked(
    settings: Settings, tls_files: dict[str, str]
) -> None:
    async with _serve(settings, tls_files) as server:
        address = server.address.replace("127.0.0.1", "localhost")
        tenant = await make_tenant(server.services, "acme")
        quick = RetryPolicy(attempts=2, first_delay=0.05)
        async with AsyncClient(address, api_key=tenant.api_key, ca_file=tls_files["ca"]) as client:
            names = [n["namespace_name"] for n in (await client.list_namespaces())["results"]]
            assert names == ["default"]
        async with AsyncClient(address, api_key=tenant.api_key, retry=quick) as plain:
            with pytest.raises(Unavailable):  # plaintext to a TLS port
                await plain.list_namespaces()
        untrusting = AsyncClient(address, api_key=tenant.api_key, tls=True, retry=quick)
        async with untrusting:
            with pytest.raises(Unavailable):  # the system roots do not know the test CA
                await untrusting.list_namespaces()


async def test_grpc_asks_for_a_client_certificate_with_a_client_ca(
    settings: Settings, tls_files: dict[str, str], authority: trustme.CA
) -> None:
    async with _serve(settings, tls_files, client_ca=tls_files["ca"]) as server:
        address = server.address
        async with _channel(address, tls_files["ca"]) as anonymous:
            with pytest.raises(aio.AioRpcError) as refused:
                await health_pb2_grpc.HealthStub(anonymous).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        client = authority.issue_cert("bucketd-client@example.com")
        async with _channel(address, tls_files["ca"], client) as authenticated:
            await wait_until_serving(authenticated)


def test_half_a_tls_configuration_is_refused(tls_files: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="both"):
        TlsFiles.of(tls_files["tls_cert_file"], None, None)
    with pytest.raises(SettingsError, match="does not exist"):
        TlsFiles.of(tls_files["tls_cert_file"], "/nonexistent/key.pem", None)


async def test_a_tls_mistake_says_what_failed(
    settings: Settings, tls_files: dict[str, str], authority: trustme.CA, tmp_path: Path
) -> None:
    """gRPC alone reports the last address tried (`localhost`'s ::1: "Connection refused") and
    hides the certificate failure on 127.0.0.1; the client and the CLI say what failed."""
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    elsewhere = authority.issue_cert("bucketd.internal")  # not valid for localhost
    named = {**tls_files, "tls_cert_file": str(tmp_path / "named.pem")}
    named |= {"tls_key_file": str(tmp_path / "named-key.pem")}
    elsewhere.cert_chain_pems[0].write_to_path(named["tls_cert_file"])
    elsewhere.private_key_pem.write_to_path(named["tls_key_file"])
    once = RetryPolicy(attempts=1)
    async with _serve(settings, tls_files) as server:
        local = server.address.replace("127.0.0.1", "localhost")
        key = (await make_tenant(server.services, "acme")).api_key
        cases: list[tuple[str, dict[str, Any], str]] = [
            (local, {"tls": True}, "certificate verification failed"),  # the system's roots
            (local, {"ca_file": str(stranger)}, "certificate verification failed"),
            ("localhost:1", {"ca_file": tls_files["ca"]}, "connection refused at localhost:1"),
        ]
        for address, trust, failure in cases:
            async with AsyncClient(address, api_key=key, retry=once, **trust) as client:
                with pytest.raises(Unavailable) as raised:
                    await client.list_namespaces()
            assert failure in raised.value.message, (address, trust, raised.value.message)
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bucketd", "ls", "--bucket", "photos"],
            env=child_env(BUCKETD_ADDRESS=local, BUCKETD_API_KEY=key, BUCKETD_TLS="1"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 5 and "certificate verification failed" in cli.stderr, cli
    async with _serve(settings, named) as server:
        local = server.address.replace("127.0.0.1", "localhost")
        async with AsyncClient(local, api_key=key, retry=once, ca_file=tls_files["ca"]) as client:
            with pytest.raises(Unavailable) as raised:
                await client.list_namespaces()
        assert "hostname mismatch" in raised.value.message
        assert "not valid for 'localhost'" in raised.value.message
