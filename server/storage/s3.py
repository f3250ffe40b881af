"""S3 connection through aiobotocore: works with AWS S3, MinIO, Ceph and moto's server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from botocore.handlers import convert_body_to_file_like_object

from bucketd.server.errors import S3Unavailable
from bucketd.server.settings import Settings

# aiobotocore's client classes are generated at run time; there is nothing precise to name.
S3Client = Any


@contextlib.asynccontextmanager
async def open_s3(
    settings: Settings, *, endpoint_url: str | None = None
) -> AsyncIterator[S3Client]:
    """Yield an S3 client for `endpoint_url` (default: the configured endpoint)."""
    session = get_session()
    config = AioConfig(
        signature_version="s3v4",
        # The payload is not signed (SigV4's second SHA-256 of every byte cost ~15 % of bucketd's
        # CPU per upload): each part carries its CRC32C instead, which S3 checks (Ceph 16 does
        # not: see docs/operating.md), single PUTs a Content-MD5, and TLS guards the bytes too.
        s3={"addressing_style": "path", "payload_signing_enabled": False},
        # A stalled S3 holds a call no longer than these (and the call's deadline: blobs.py).
        connect_timeout=settings.s3_connect_timeout_seconds,
        read_timeout=settings.s3_read_timeout_seconds,
        retries={"max_attempts": settings.s3_max_attempts, "mode": settings.s3_retry_mode},
        # botocore computes no checksum of its own (>= 1.36 would CRC32 every part): bucketd
        # gives each part the CRC32C it computes anyway (services/part_hashing.py).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=settings.s3_max_pool_connections,
    )
    async with session.create_client(
        "s3",
        endpoint_url=endpoint_url or settings.s3_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        config=config,
    ) as client:
        # botocore wraps a bytes Body in a BytesIO, and aiohttp copies a BytesIO whole before
        # sending it (getbuffer() unshares it), then again piece by piece. A PUT's bytes go to
        # aiohttp as they are (parts go as a PartBody: storage/part_body.py).
        client.meta.events.unregister(
            "before-parameter-build.s3.PutObject", convert_body_to_file_like_object
        )
        yield client


async def ensure_bucket(client: S3Client, bucket: str, *, region: str) -> None:
    """Create the internal storage bucket when it is missing; StorageUnavailable if S3 is down."""
    try:
        try:
            await client.head_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                raise
            location = {} if region == "us-east-1" else {"LocationConstraint": region}
            await client.create_bucket(Bucket=bucket, **_bucket_configuration(location))
    except (BotoCoreError, ClientError) as error:
        raise S3Unavailable(f"S3 bucket {bucket!r} is not usable: {error}") from error


# What a web page does with a presigned URL: PUT the file (with its signed Content-Type), and
# read an object back; ETag is what a page may compare.
_CORS_METHODS = ["PUT", "GET", "HEAD"]
CORS_MAX_AGE_SECONDS = 600


async def set_bucket_cors(client: S3Client, bucket: str, origins: tuple[str, ...]) -> None:
    """Let pages of `origins` PUT to presigned URLs of the storage bucket (S3 PutBucketCors;
    Ceph RGW, MinIO and AWS honour it). No origins: the bucket's rules are left as they are."""
    if not origins:
        return
    rule = {
        "AllowedOrigins": list(origins),
        "AllowedMethods": _CORS_METHODS,
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": CORS_MAX_AGE_SECONDS,
    }
    try:
        await client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    except (BotoCoreError, ClientError) as error:
        raise S3Unavailable(f"S3 bucket {bucket!r} refused its CORS rules: {error}") from error


def _bucket_configuration(location: dict[str, str]) -> dict[str, Any]:
    # us-east-1 refuses an explicit LocationConstraint; every other region requires one.
    return {"CreateBucketConfiguration": location} if location else {}
