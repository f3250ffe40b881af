"""The gateway's own settings (the server's are not its business)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bucketd import config
from bucketd.config import setting

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class GatewaySettings:
    """The REST gateway's configuration; each field declares its variable."""

    http_max_body_bytes: int = setting(
        "BUCKETD_HTTP_MAX_BODY_BYTES",
        32 * MIB,
        "largest REST request body (413 above it); the streaming route has its own limits",
        minimum=1024,
    )
    http_idle_seconds: float = setting(
        "BUCKETD_HTTP_IDLE_SECONDS",
        15.0,
        "how long a connection may take to send a request's headers, or stay idle between "
        "requests, before it is closed (slow clients)",
        minimum=0.1,
    )
    http_body_idle_seconds: float = setting(
        "BUCKETD_HTTP_BODY_IDLE_SECONDS",
        30.0,
        "how long a request body may go without sending a byte (408 after that)",
        minimum=0.1,
    )
    http_body_min_bytes_per_second: float = setting(
        "BUCKETD_HTTP_BODY_MIN_BYTES_PER_SECOND",
        1024.0,
        "slowest average rate a request body may arrive at, past its grace period (408 below "
        "it, on every route); 0: no minimum",
        minimum=0,
    )
    http_body_grace_seconds: float = setting(
        "BUCKETD_HTTP_BODY_GRACE_SECONDS",
        10.0,
        "how long a request body may take before its minimum rate applies",
        minimum=0,
    )
    http_max_header_bytes: int = setting(
        "BUCKETD_HTTP_MAX_HEADER_BYTES",
        8190,
        "longest request line or header field (431 above it)",
        minimum=1024,
        maximum=65536,
    )
    gateway_timeout_seconds: float = setting(
        "BUCKETD_GATEWAY_TIMEOUT_SECONDS",
        30.0,
        "deadline of each gateway → gRPC call; a request may ask for less with "
        "`X-Request-Timeout: <seconds>`",
        minimum=0.001,
    )

    # Not a variable of its own: the chunk the streaming routes send per UploadObject message,
    # which `bucketd serve` sets to fit the server's BUCKETD_MAX_STREAM_CHUNK_BYTES.
    stream_chunk_bytes: int = 2 * MIB
    # Likewise: the largest streamed blob (the server's BUCKETD_MAX_STREAM_BLOB_BYTES), so that
    # a declared Content-Length over it is a 413 before a byte is read.
    max_stream_blob_bytes: int = 5 * 1024 * MIB

    # Likewise: the origins allowed to call the API from a web page (the server's
    # BUCKETD_CORS_ORIGINS, which also sets the storage bucket's CORS rules).
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        return config.from_env(cls, os.environ if env is None else env)
