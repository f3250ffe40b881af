"""Issue 14: one log line per call on each side, joined by the request id; Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import aiohttp
import pytest

from bucketd import logs
from bucketd.gateway.settings import GatewaySettings
from bucketd.process import Listen, running_process
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant, serving
from tests.e2e.objects_support import PNG, b64, make_bucket


def _lines(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    """The fields of the lines `name` logged (LogRecord attributes, extras included)."""
    return [vars(record) for record in caplog.records if record.name == name]


async def test_gateway_and_server_lines_share_the_request_id(
    service: Service, acme: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    await make_bucket(service, acme)
    caplog.set_level(logging.INFO)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    headers = {**acme.headers(), "X-Request-Id": "req-from-the-client"}
    async with service.http.post(
        "/v1/buckets/things/objects", json={"blobs": [blob]}, headers=headers
    ) as reply:
        assert reply.status == 200
        assert reply.headers["X-Request-Id"] == "req-from-the-client"
    ours = "req-from-the-client"
    (http,) = [r for r in _lines(caplog, "bucketd.http") if r["request_id"] == ours]
    (rpc,) = [r for r in _lines(caplog, "bucketd.rpc") if r["request_id"] == ours]
    assert (http["http_method"], http["path"], http["status"]) == (
        "POST",
        "/v1/buckets/things/objects",
        200,
    )
    assert http["bytes_in"] > len(PNG)
    assert rpc["rpc"] == "/bucketd.v1.ObjectService/CreateObject" and rpc["code"] == "OK"
    assert rpc["organization_id"].startswith("org_") and rpc["namespace_id"].startswith("ns_")
    assert rpc["bytes_in"] > len(PNG) and rpc["error"] is None
    assert acme.api_key not in caplog.text  # never the key

    caplog.clear()
    async with service.http.get("/v1/buckets/nope", headers=acme.headers()) as reply:
        assert reply.status == 404
        generated = reply.headers["X-Request-Id"]
    (failed,) = [r for r in _lines(caplog, "bucketd.rpc") if r["request_id"] == generated]
    assert failed["code"] == "NOT_FOUND" and "nope" in failed["error"]


async def test_metrics_count_calls_requests_and_bytes(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    blob = {"property": "image", "type": "image", "data": {"base64": b64(PNG)}}
    for _ in range(2):
        async with service.http.post(
            "/v1/buckets/things/objects", json={"blobs": [blob]}, headers=acme.headers()
        ) as reply:
            assert reply.status == 200
    async with service.http.get("/metrics") as reply:
        assert reply.status == 200 and reply.content_type == "text/plain"
        text = await reply.text()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    created = (
        'bucketd_rpc_requests_total{code="OK",method="/bucketd.v1.ObjectService/CreateObject"}'
    )
    assert samples[created] >= 2
    route = (
        'bucketd_http_requests_total{method="POST",'
        'route="/v1/buckets/{bucket_identifier}/objects",status="200"}'
    )
    assert samples[route] >= 2
    assert samples['bucketd_ingested_bytes_total{path="inline"}'] >= len(PNG)
    assert samples["bucketd_dedup_hits_total"] >= 1  # the second create reused the bytes
    assert samples["bucketd_objects_created_total"] >= 2
    assert "bucketd_streams_in_flight 0.0" in text


async def test_a_metrics_port_takes_metrics_off_the_rest_port(
    settings: Settings, gateway_settings: GatewaySettings
) -> None:
    """Issue 38: with --metrics-port, /metrics answers there only; the public REST port, which
    asks no key for it, answers 404."""
    listen = Listen(metrics_port=0)
    async with (
        running_process(settings, gateway_settings, listen) as process,
        serving(process) as service,
        aiohttp.ClientSession() as http,
    ):
        assert process.metrics_url is not None and process.metrics_url != process.url
        async with http.get(f"{process.metrics_url}/metrics") as reply:
            assert reply.status == 200 and "bucketd_rpc_requests_total" in await reply.text()
        async with service.http.get("/metrics") as reply:
            assert reply.status == 404
            assert (await reply.json())["error"]["type"] == "NotFoundError"
        async with service.http.get("/healthz") as reply:
            assert reply.status == 200  # the REST port still answers the rest


async def test_without_a_metrics_port_the_rest_port_serves_metrics(service: Service) -> None:
    async with service.http.get("/metrics") as reply:
        assert reply.status == 200 and "bucketd_rpc_requests_total" in await reply.text()


def test_json_lines_carry_the_fields_and_text_lines_quote_them() -> None:
    stream = io.StringIO()
    logs.configure(log_format="json", level="info")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    token = logs.request_id.set("abc123")
    try:
        logging.getLogger("bucketd.rpc").info("rpc", extra={"code": "OK", "error": None})
        line = json.loads(stream.getvalue())
        assert (line["level"], line["logger"], line["request_id"]) == (
            "INFO",
            "bucketd.rpc",
            "abc123",
        )
        assert line["code"] == "OK"
        logs.configure(log_format="text", level="warning")
        handler = logging.getLogger().handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream := io.StringIO())
        logging.getLogger("bucketd.rpc").info("dropped: below the level")
        logging.getLogger("bucketd.rpc").warning("rpc", extra={"error": 'say "no"'})
        assert stream.getvalue().rstrip().endswith('error="say \\"no\\"" request_id=abc123')
    finally:
        logs.request_id.reset(token)
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)
