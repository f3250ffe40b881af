"""The one reader of the environment: everything else receives a frozen Settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A variable is set to something bucketd cannot use; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw}")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """bucketd's configuration; the README's configuration table documents each field."""

    mongodb_uri: str | None = None
    mongodb_database: str = "bucketd"
    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "bucketd"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_region: str = "us-east-1"
    dev_api_key: str | None = None
    fetch_allowlist: tuple[str, ...] = ()
    grpc_max_message_bytes: int = 32 * 1024 * 1024
    http_max_body_bytes: int = 32 * 1024 * 1024
    gateway_timeout_seconds: float = 30.0
    shutdown_grace_seconds: float = 10.0
    key_cache_seconds: float = 30.0
    max_inline_bytes: int = 10 * 1024 * 1024
    max_blobs_per_object: int = 32
    max_fetch_bytes: int = 1024 * 1024 * 1024
    fetch_connect_timeout_seconds: float = 5.0
    fetch_read_timeout_seconds: float = 30.0
    max_upload_bytes: int = 5 * 1024**3
    async_confirm_bytes: int = 100 * 1000**2
    upload_lease_seconds: float = 300.0
    upload_sweep_seconds: float = 30.0
    max_stream_blob_bytes: int = 5 * 1024**3
    max_stream_chunk_bytes: int = 2 * 1024 * 1024
    stream_idle_seconds: float = 30.0
    stream_session_seconds: float = 24 * 3600.0

    @property
    def presign_endpoint_url(self) -> str | None:
        """Presigned URLs must work from outside: signed for the public endpoint when set."""
        return self.s3_public_endpoint_url or self.s3_endpoint_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the variables of the README's configuration table (default: os.environ)."""
        env = os.environ if env is None else env
        allowlist = tuple(
            item.strip()
            for item in env.get("BUCKETD_FETCH_ALLOWLIST", "").split(",")
            if item.strip()
        )
        return cls(
            mongodb_uri=_optional(env, "MONGODB_URI"),
            mongodb_database=_optional(env, "MONGODB_DATABASE") or "bucketd",
            s3_endpoint_url=_optional(env, "S3_ENDPOINT_URL"),
            s3_public_endpoint_url=_optional(env, "S3_PUBLIC_ENDPOINT_URL"),
            s3_bucket=_optional(env, "S3_BUCKET") or "bucketd",
            aws_access_key_id=_optional(env, "AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_optional(env, "AWS_SECRET_ACCESS_KEY"),
            aws_region=_optional(env, "AWS_REGION") or "us-east-1",
            dev_api_key=_optional(env, "BUCKETD_DEV_API_KEY"),
            fetch_allowlist=allowlist,
            grpc_max_message_bytes=_int(
                env, "BUCKETD_GRPC_MAX_MESSAGE_BYTES", cls.grpc_max_message_bytes, minimum=1024
            ),
            http_max_body_bytes=_int(
                env, "BUCKETD_HTTP_MAX_BODY_BYTES", cls.http_max_body_bytes, minimum=1024
            ),
            gateway_timeout_seconds=_float(
                env, "BUCKETD_GATEWAY_TIMEOUT_SECONDS", cls.gateway_timeout_seconds
            ),
            shutdown_grace_seconds=_float(
                env, "BUCKETD_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds
            ),
            key_cache_seconds=_float(env, "BUCKETD_KEY_CACHE_SECONDS", cls.key_cache_seconds),
            max_inline_bytes=_int(env, "BUCKETD_MAX_INLINE_BYTES", cls.max_inline_bytes, minimum=1),
            max_blobs_per_object=_int(
                env, "BUCKETD_MAX_BLOBS_PER_OBJECT", cls.max_blobs_per_object, minimum=1
            ),
            max_fetch_bytes=_int(env, "BUCKETD_MAX_FETCH_BYTES", cls.max_fetch_bytes, minimum=1),
            fetch_connect_timeout_seconds=_float(
                env, "BUCKETD_FETCH_CONNECT_TIMEOUT_SECONDS", cls.fetch_connect_timeout_seconds
            ),
            fetch_read_timeout_seconds=_float(
                env, "BUCKETD_FETCH_READ_TIMEOUT_SECONDS", cls.fetch_read_timeout_seconds
            ),
            max_upload_bytes=_int(env, "BUCKETD_MAX_UPLOAD_BYTES", cls.max_upload_bytes, minimum=1),
            async_confirm_bytes=_int(
                env, "BUCKETD_ASYNC_CONFIRM_BYTES", cls.async_confirm_bytes, minimum=1
            ),
            upload_lease_seconds=_float(
                env, "BUCKETD_UPLOAD_LEASE_SECONDS", cls.upload_lease_seconds
            ),
            upload_sweep_seconds=_float(
                env, "BUCKETD_UPLOAD_SWEEP_SECONDS", cls.upload_sweep_seconds
            ),
            max_stream_blob_bytes=_int(
                env, "BUCKETD_MAX_STREAM_BLOB_BYTES", cls.max_stream_blob_bytes, minimum=1
            ),
            max_stream_chunk_bytes=min(
                _int(env, "BUCKETD_MAX_STREAM_CHUNK_BYTES", cls.max_stream_chunk_bytes, minimum=1),
                cls.max_stream_chunk_bytes,
            ),
            stream_idle_seconds=_float(env, "BUCKETD_STREAM_IDLE_SECONDS", cls.stream_idle_seconds),
            stream_session_seconds=_float(
                env, "BUCKETD_STREAM_SESSION_SECONDS", cls.stream_session_seconds
            ),
        )
