"""The server's settings: the only reader of the environment is `Settings.from_env`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bucketd import config
from bucketd.config import SettingsError, setting
from bucketd.server.services.admission import cap_from_budget
from bucketd.server.services.content_writer import PART_BYTES

__all__ = ["Settings", "SettingsError"]

MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Settings:
    """bucketd's configuration; each field declares its variable (docs/operating.md)."""

    mongodb_uri: str | None = setting(
        "MONGODB_URI",
        None,
        "MongoDB to use; unset: `bucketd serve` starts the mongoeco stand-in",
    )
    mongodb_database: str = setting("MONGODB_DATABASE", "bucketd", "database name")
    s3_endpoint_url: str | None = setting(
        "S3_ENDPOINT_URL",
        None,
        "S3 endpoint (MinIO, Ceph, moto); unset: the moto stand-in. For AWS S3 set it to the "
        "regional endpoint, e.g. `https://s3.eu-west-1.amazonaws.com`",
    )
    s3_public_endpoint_url: str | None = setting(
        "S3_PUBLIC_ENDPOINT_URL",
        None,
        "endpoint that presigned URLs are signed for (what clients can reach); "
        "default: `S3_ENDPOINT_URL`",
    )
    s3_bucket: str = setting(
        "S3_BUCKET",
        "bucketd",
        "internal storage bucket, created at start-up if missing. `bucketd serve` requires it "
        "with `S3_ENDPOINT_URL` (bucket names are global on AWS: choose yours); the stand-in "
        "uses `bucketd`",
    )
    standin: str = setting(
        "BUCKETD_STANDIN",
        "",
        "the one stand-in wanted when only one of `MONGODB_URI` and `S3_ENDPOINT_URL` is set "
        "(`mongodb` or `s3`); without it `bucketd serve` refuses such a half configuration, "
        "whose stand-in would lose its data at the next restart",
        choices=("", "mongodb", "s3"),
    )
    aws_access_key_id: str | None = setting(
        "AWS_ACCESS_KEY_ID",
        None,
        "S3 credentials; unset: botocore's chain (dummy ones with the stand-in)",
    )
    aws_secret_access_key: str | None = setting(
        "AWS_SECRET_ACCESS_KEY", None, "S3 credentials, with `AWS_ACCESS_KEY_ID`"
    )
    aws_region: str = setting("AWS_REGION", "us-east-1", "S3 region")
    log_format: str = setting(
        "BUCKETD_LOG_FORMAT",
        "text",
        "log lines as `key=value` text or as JSON objects (one per line, on stderr)",
        choices=("text", "json"),
    )
    log_level: str = setting(
        "BUCKETD_LOG_LEVEL",
        "info",
        "the least severe level logged; `info` logs one line per call",
        choices=("debug", "info", "warning", "error"),
    )
    tls_cert_file: str | None = setting(
        "BUCKETD_TLS_CERT_FILE",
        None,
        "PEM certificate chain: with BUCKETD_TLS_KEY_FILE, both listeners (gRPC and REST) "
        "speak TLS only",
    )
    tls_key_file: str | None = setting(
        "BUCKETD_TLS_KEY_FILE", None, "PEM private key of BUCKETD_TLS_CERT_FILE"
    )
    tls_client_ca_file: str | None = setting(
        "BUCKETD_TLS_CLIENT_CA_FILE",
        None,
        "PEM certificate authorities: gRPC clients must present a certificate they signed (mTLS)",
    )
    dev_api_key: str | None = setting(
        "BUCKETD_DEV_API_KEY",
        None,
        "stand-in mode: the `sk_test_` key to bootstrap with organization and namespace "
        "`default`; unset: a fresh key",
    )
    fetch_allowlist: tuple[str, ...] = setting(
        "BUCKETD_FETCH_ALLOWLIST",
        (),
        "comma-separated hosts or CIDRs that URL mirroring may reach despite the SSRF guard",
    )
    s3_source_buckets: tuple[str, ...] = setting(
        "BUCKETD_S3_SOURCE_BUCKETS",
        (),
        "comma-separated S3 buckets (of `S3_ENDPOINT_URL`) that `s3://` blob sources may read; "
        "empty: none. bucketd's own `S3_BUCKET` is never readable this way",
    )
    cors_origins: tuple[str, ...] = setting(
        "BUCKETD_CORS_ORIGINS",
        (),
        "origins whose web pages may call the REST API and PUT to presigned URLs (CORS), "
        "comma-separated (`https://app.example.com,https://admin.example.com`), or `*` for any; "
        "unset: no CORS headers. bucketd also sets its storage bucket's CORS rules to them at "
        'start-up (docs/api.md, "Uploading from a web page")',
    )
    fetch_timeout_seconds: float = setting(
        "BUCKETD_FETCH_TIMEOUT_SECONDS",
        300.0,
        "URL fetch: the longest a whole fetch may take (also bounded by the call's deadline); "
        "a source slower than this fails its object",
        minimum=0.001,
    )
    max_metadata_bytes: int = setting(
        "BUCKETD_MAX_METADATA_BYTES",
        1024 * 1024,
        "largest JSON a caller stores in one place (an object's metadata, a blob's metadata or "
        "JSON value, a bucket's or an upload's metadata), encoded",
        minimum=1024,
        maximum=8 * 1024 * 1024,
    )
    readiness_seconds: float = setting(
        "BUCKETD_READINESS_SECONDS",
        5.0,
        "how often MongoDB and S3 are checked for readiness (gRPC health, `/readyz`)",
        minimum=0.05,
    )
    mongodb_timeout_seconds: float = setting(
        "BUCKETD_MONGODB_TIMEOUT_SECONDS",
        30.0,
        "the longest a MongoDB operation may wait for an answer (503 after that)",
        minimum=0.1,
    )
    query_timeout_seconds: float = setting(
        "BUCKETD_QUERY_TIMEOUT_SECONDS",
        10.0,
        "the longest a list, stats or aggregation query may run in MongoDB (sent as maxTimeMS, "
        "counted from when it holds a connection: waiting is a 503); past it the call answers "
        "400 naming this limit",
        minimum=0.01,
    )
    grpc_max_message_bytes: int = setting(
        "BUCKETD_GRPC_MAX_MESSAGE_BYTES",
        32 * MIB,
        "largest gRPC message the server receives or sends",
        minimum=1024,
    )
    shutdown_grace_seconds: float = setting(
        "BUCKETD_SHUTDOWN_GRACE_SECONDS",
        10.0,
        "on SIGTERM/SIGINT, how long in-flight calls may take to finish",
        minimum=0,
    )
    key_cache_seconds: float = setting(
        "BUCKETD_KEY_CACHE_SECONDS",
        30.0,
        "how long a valid key is trusted without a MongoDB read (and so how long a "
        "revocation may take to bite)",
        minimum=0,
    )
    max_inline_bytes: int = setting(
        "BUCKETD_MAX_INLINE_BYTES",
        10 * MIB,
        "largest inline (base64) blob, decoded (413 above it)",
        minimum=1,
    )
    max_blobs_per_object: int = setting(
        "BUCKETD_MAX_BLOBS_PER_OBJECT", 32, "most blobs in one object", minimum=1
    )
    max_fetch_bytes: int = setting(
        "BUCKETD_MAX_FETCH_BYTES", 1024 * MIB, "largest URL source mirrored", minimum=1
    )
    fetch_connect_timeout_seconds: float = setting(
        "BUCKETD_FETCH_CONNECT_TIMEOUT_SECONDS", 5.0, "URL fetch: connect timeout", minimum=0.001
    )
    fetch_read_timeout_seconds: float = setting(
        "BUCKETD_FETCH_READ_TIMEOUT_SECONDS",
        30.0,
        "URL fetch: longest wait between two chunks",
        minimum=0.001,
    )
    max_upload_bytes: int = setting(
        "BUCKETD_MAX_UPLOAD_BYTES",
        5 * 1024 * MIB,
        "largest presigned upload (`file_size_bytes`)",
        minimum=1,
    )
    async_confirm_bytes: int = setting(
        "BUCKETD_ASYNC_CONFIRM_BYTES",
        100 * 1000**2,
        "confirms of files this large run in the background",
        minimum=1,
    )
    upload_lease_seconds: float = setting(
        "BUCKETD_UPLOAD_LEASE_SECONDS",
        300.0,
        "how long a background confirm holds its lease before another instance may take it over",
        minimum=0.001,
    )
    sweep_seconds: float = setting(
        "BUCKETD_SWEEP_SECONDS",
        60.0,
        "how often each instance's janitor runs: reclaims dead writes, deletes unheld bytes, "
        "expires stale uploads, resumes abandoned confirms, aborts stale multipart uploads",
        minimum=0.001,
    )
    write_lease_seconds: float = setting(
        "BUCKETD_WRITE_LEASE_SECONDS",
        900.0,
        "how long a write in flight may go without renewing its lease (a live one renews it "
        "every third of this) before a janitor reclaims it and marks its object FAILED (or "
        "removes it, when its bucket was deleted meanwhile)",
        minimum=0.01,
    )
    task_lease_seconds: float = setting(
        "BUCKETD_TASK_LEASE_SECONDS",
        60.0,
        "how long a running task (a deletion, a batch confirm) may go without renewing its lease "
        "(a live one renews it every third of this) before another instance's janitor runs it "
        "again",
        minimum=0.01,
    )
    blob_grace_seconds: float = setting(
        "BUCKETD_BLOB_GRACE_SECONDS",
        3600.0,
        "how long bytes nobody holds any more are kept before the janitor deletes them",
        minimum=0,
    )
    multipart_max_age_seconds: float = setting(
        "BUCKETD_MULTIPART_MAX_AGE_SECONDS",
        24 * 3600.0,
        "a multipart upload of the storage bucket older than this that no write in flight names "
        "is aborted by the janitor (one a stalled S3 opened after its caller gave up)",
        minimum=0.001,
    )
    namespace_cache_seconds: float = setting(
        "BUCKETD_NAMESPACE_CACHE_SECONDS",
        30.0,
        "how long an X-Namespace lookup is trusted without a MongoDB read (a rename or deletion "
        "made on another instance is seen within that time); also how long a create may plan "
        "against the bucket as last read (it checks it again once its record is written)",
        minimum=0,
    )
    max_stream_blob_bytes: int = setting(
        "BUCKETD_MAX_STREAM_BLOB_BYTES", 5 * 1024 * MIB, "largest streamed blob", minimum=1
    )
    max_stream_chunk_bytes: int = setting(
        "BUCKETD_MAX_STREAM_CHUNK_BYTES",
        2 * MIB,
        "largest chunk per UploadObject message",
        minimum=1,
        maximum=2 * MIB,
    )
    stream_idle_seconds: float = setting(
        "BUCKETD_STREAM_IDLE_SECONDS",
        30.0,
        "an UploadObject stream with no message for this long is closed",
        minimum=0.001,
    )
    stream_session_seconds: float = setting(
        "BUCKETD_STREAM_SESSION_SECONDS",
        24 * 3600.0,
        "lifetime of a resumable upload session",
        minimum=1,
    )
    # Store client limits (issue 39): what a stalled MongoDB or S3 may cost a call. Every call
    # made for a request also gets at most what is left of the request's deadline.
    s3_connect_timeout_seconds: float = setting(
        "BUCKETD_S3_CONNECT_TIMEOUT_SECONDS",
        5.0,
        "S3: connect timeout of each attempt",
        minimum=0.01,
    )
    s3_read_timeout_seconds: float = setting(
        "BUCKETD_S3_READ_TIMEOUT_SECONDS",
        20.0,
        "S3: the longest an attempt waits for the next bytes of an answer",
        minimum=0.01,
    )
    s3_max_attempts: int = setting(
        "BUCKETD_S3_MAX_ATTEMPTS",
        3,
        "S3: attempts per call, the first included (botocore's `max_attempts`)",
        minimum=1,
        maximum=10,
    )
    s3_retry_mode: str = setting(
        "BUCKETD_S3_RETRY_MODE",
        "standard",
        "S3: botocore's retry mode",
        choices=("standard", "adaptive", "legacy"),
    )
    s3_max_pool_connections: int = setting(
        "BUCKETD_S3_MAX_POOL_CONNECTIONS", 32, "S3: most connections open at once", minimum=1
    )
    s3_part_timeout_seconds: float = setting(
        "BUCKETD_S3_PART_TIMEOUT_SECONDS",
        60.0,
        "S3: the longest the start of a streamed upload's multipart upload, or one of its "
        "parts, may take, retries included; a stalled S3 fails the stream after this (sooner "
        "if the call's deadline is sooner), with or without a deadline",
        minimum=0.01,
    )
    mongodb_server_selection_seconds: float = setting(
        "BUCKETD_MONGODB_SERVER_SELECTION_SECONDS",
        5.0,
        "MongoDB: the longest an operation waits for a server to send it to",
        minimum=0.01,
    )
    mongodb_connect_timeout_seconds: float = setting(
        "BUCKETD_MONGODB_CONNECT_TIMEOUT_SECONDS",
        10.0,
        "MongoDB: connect timeout of a new connection",
        minimum=0.01,
    )
    mongodb_max_pool_size: int = setting(
        "BUCKETD_MONGODB_MAX_POOL_SIZE", 100, "MongoDB: most connections open at once", minimum=1
    )
    cleanup_seconds: float = setting(
        "BUCKETD_CLEANUP_SECONDS",
        30.0,
        "how long the clean-up of a failed or cancelled write (aborting its multipart uploads, "
        "marking its object FAILED) may run in the background after the answer; what it leaves "
        "is the janitor's once the write's lease runs out",
        minimum=0.01,
    )
    memory_budget_bytes: int = setting(
        "BUCKETD_MEMORY_BUDGET_BYTES",
        2048 * MIB,
        "the memory this process may use (the Kubernetes recipe sets it from the container's "
        "memory limit); without `BUCKETD_MAX_UPLOADS` it sets the uploads held at once: "
        "(budget - 256 MiB) / (2 * the 16 MiB S3 part + 4 MiB)",
        minimum=64 * MIB,
    )
    max_uploads: int = setting(
        "BUCKETD_MAX_UPLOADS",
        0,
        "most uploads in flight in this process (streams, resumable appends, creates with "
        "inline bytes or a URL); past it a new one gets 503 + Retry-After (gRPC "
        "RESOURCE_EXHAUSTED with RetryInfo). 0: from `BUCKETD_MEMORY_BUDGET_BYTES`",
        minimum=0,
    )
    max_uploads_org_fraction: float = setting(
        "BUCKETD_MAX_UPLOADS_ORG_FRACTION",
        0.5,
        "the share of those upload slots one organization may hold (at least one slot)",
        minimum=0.01,
        maximum=1,
    )
    uploads_retry_after_seconds: float = setting(
        "BUCKETD_UPLOADS_RETRY_AFTER_SECONDS",
        1.0,
        "the retry delay (Retry-After, RetryInfo) an upload refused for want of a slot is given",
        minimum=0,
    )
    rate_limit_per_second: float = setting(
        "BUCKETD_RATE_LIMIT_PER_SECOND",
        0.0,
        "requests per second one API key may send to this process (a token bucket per key, "
        "per process: each worker and replica counts its own); past it 429 + Retry-After "
        "(gRPC RESOURCE_EXHAUSTED). 0: no limit",
        minimum=0,
    )
    rate_limit_burst: int = setting(
        "BUCKETD_RATE_LIMIT_BURST",
        50,
        "requests one API key may send at once above its rate (the token bucket's size)",
        minimum=1,
    )

    @property
    def upload_cap(self) -> int:
        """BUCKETD_MAX_UPLOADS, or the uploads the memory budget holds."""
        return self.max_uploads or cap_from_budget(self.memory_budget_bytes, PART_BYTES)

    @property
    def presign_endpoint_url(self) -> str | None:
        """Presigned URLs must work from outside: signed for the public endpoint when set."""
        return self.s3_public_endpoint_url or self.s3_endpoint_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of `env` (default: os.environ); SettingsError names a bad variable."""
        return config.from_env(cls, os.environ if env is None else env)
