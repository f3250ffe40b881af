"""Prometheus metrics of the server and the gateway (one registry per process).

`GET /metrics` on the REST port (on `--metrics-port` instead, when given) exposes them;
docs/operating.md lists them. Names follow Prometheus conventions: `_total` counters,
`_seconds` histograms.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

RPCS = Counter(
    "bucketd_rpc_requests",
    "gRPC calls answered, by method and status code",
    ["method", "code"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "bucketd_rpc_duration_seconds", "gRPC call latency, by method", ["method"], registry=REGISTRY
)
HTTP_REQUESTS = Counter(
    "bucketd_http_requests",
    "REST requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "bucketd_http_request_duration_seconds",
    "REST request latency, by route template",
    ["route"],
    registry=REGISTRY,
)
INGESTED_BYTES = Counter(
    "bucketd_ingested_bytes",
    "blob bytes received, by path: inline, url, s3, stream, presigned, json",
    ["path"],
    registry=REGISTRY,
)
OBJECTS_CREATED = Counter(
    "bucketd_objects_created", "objects stored (new or rewritten)", registry=REGISTRY
)
DEDUP_HITS = Counter(
    "bucketd_dedup_hits",
    "blobs whose bytes were registered already (nothing stored again)",
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "bucketd_store_errors",
    "MongoDB and S3 operations that failed, by store",
    ["store"],
    registry=REGISTRY,
)
JANITOR_WORK = Counter(
    "bucketd_janitor_work",
    "janitor work, by kind: writes_reclaimed, multipart_uploads_aborted, releases_finished, "
    "contents_deleted, uploads_expired, confirms_resumed, tasks_resumed, stale_multiparts_aborted",
    ["kind"],
    registry=REGISTRY,
)
STREAMS_IN_FLIGHT = Gauge(
    "bucketd_streams_in_flight",
    "UploadObject streams being received",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's when
    `bucketd serve --workers N` set PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        gathered = CollectorRegistry()
        MultiProcessCollector(gathered)  # type: ignore[no-untyped-call]
        return generate_latest(gathered)
    return generate_latest(REGISTRY)
