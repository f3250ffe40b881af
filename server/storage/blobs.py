"""Blob bytes in S3: whole objects, multipart uploads, reads, presigned URLs.

Plain operations at keys the caller chose; what to write where (and when to deduplicate) is the
use cases' business. botocore's errors are translated here: S3 that does not answer is
StorageUnavailable, a source that cannot be read is FailedPrecondition.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import datetime

from botocore.exceptions import BotoCoreError, ClientError

from bucketd import metrics
from bucketd.server.domain.deadlines import call_seconds_left, seconds_left
from bucketd.server.domain.stored import Head
from bucketd.server.domain.writes import Part
from bucketd.server.errors import InvalidArgument, S3Unavailable
from bucketd.server.storage.part_body import PartBody
from bucketd.server.storage.s3 import S3Client
from bucketd.server.storage.slices import sliced

READ_CHUNK_BYTES = 8 * 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_MULTIPART_SCAN = 10_000  # open multipart uploads one janitor sweep lists, at most


@contextlib.asynccontextmanager
async def _s3(action: str, *, limit: float | None = None) -> AsyncIterator[None]:
    """One S3 call (botocore's retries included) within `limit` seconds and what is left of
    the call's deadline: a stalled S3 is a StorageUnavailable then, not a held answer
    (botocore's own timeouts, BUCKETD_S3_*, bound a call without a deadline)."""
    left = call_seconds_left()
    budget = left if limit is None else seconds_left(limit)
    try:
        async with asyncio.timeout(budget):
            yield
    except TimeoutError as error:
        metrics.STORE_ERRORS.labels("s3").inc()
        raise S3Unavailable(f"S3 {action} did not answer within {budget:.3g} s") from error
    except (BotoCoreError, ClientError) as error:
        if not isinstance(error, ClientError) or _code(error) not in _MISSING:
            metrics.STORE_ERRORS.labels("s3").inc()
        raise S3Unavailable(f"S3 {action} failed: {error}") from error


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3BlobStorage:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        presigner: S3Client | None = None,
        part_seconds: float = 60.0,
    ) -> None:
        self._client = client
        self._part_seconds = part_seconds  # BUCKETD_S3_PART_TIMEOUT_SECONDS
        self._presigner = presigner or client
        self._bucket = bucket

    def url(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    async def put(self, key: str, data: bytes, *, mime_type: str) -> None:
        """One PUT of a small body (inline data, JSON), with its Content-MD5: S3 refuses bytes
        that arrive other than they left (BadDigest)."""
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        async with _s3("PUT"):
            await self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=mime_type, ContentMD5=digest
            )

    async def start_multipart(self, key: str, *, mime_type: str) -> str:
        """Within the part limit too: a streamed upload may have no deadline, and its first S3
        call must not wait on botocore's timeouts and retries when S3 stalls."""
        async with _s3("create multipart upload", limit=self._part_seconds):
            reply = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=mime_type, ChecksumAlgorithm="CRC32C"
            )
        return str(reply["UploadId"])

    async def upload_part(
        self,
        key: str,
        multipart_id: str,
        number: int,
        pieces: Sequence[bytes | memoryview],
        *,
        crc32c: str | None = None,
    ) -> Part:
        """One part, sent as the pieces it is made of (never joined: see part_body.py); with
        its CRC32C, S3 checks the bytes against it (the payload itself is not signed: see
        storage/s3.py)."""
        body = PartBody(pieces)
        checksum = {"ChecksumCRC32C": crc32c} if crc32c else {}
        async with _s3("upload part", limit=self._part_seconds):
            reply = await self._client.upload_part(
                Bucket=self._bucket,
                Key=key,
                UploadId=multipart_id,
                PartNumber=number,
                Body=body,
                **checksum,
            )
        return Part(number=number, etag=str(reply["ETag"]), size=len(body), crc32c=crc32c)

    async def complete_multipart(self, key: str, multipart_id: str, parts: list[Part]) -> None:
        listed = [
            {"ETag": part.etag, "PartNumber": part.number}
            | ({"ChecksumCRC32C": part.crc32c} if part.crc32c else {})
            for part in parts
        ]
        async with _s3("complete multipart upload"):
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=multipart_id,
                MultipartUpload={"Parts": listed},
            )

    async def abort_multipart(self, key: str, multipart_id: str) -> None:
        """Abort one multipart upload; one that is gone already is fine."""
        try:
            async with _s3("abort multipart upload"):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=multipart_id
                )
        except S3Unavailable as error:
            cause = error.__cause__
            if not isinstance(cause, ClientError) or _code(cause) not in _MISSING:
                raise

    async def abort_all(self, key: str) -> int:
        """Abort every multipart upload open at `key` (those a dead writer never recorded too)."""
        async with _s3("list multipart uploads"):
            reply = await self._client.list_multipart_uploads(Bucket=self._bucket, Prefix=key)
        uploads = [u for u in reply.get("Uploads", []) if u["Key"] == key]
        for upload in uploads:
            await self.abort_multipart(key, upload["UploadId"])
        return len(uploads)

    async def multipart_uploads(self, *, started_before: datetime) -> list[tuple[str, str]]:
        """(key, upload id) of the multipart uploads open in the storage bucket that were
        started before `started_before`, among the first `_MULTIPART_SCAN` listed: a sweep
        stays bounded however many uploads are in flight (past that many open at once, the
        later keys wait until the first ones finish)."""
        found: list[tuple[str, str]] = []
        paginator = self._client.get_paginator("list_multipart_uploads")
        pages = paginator.paginate(
            Bucket=self._bucket, PaginationConfig={"MaxItems": _MULTIPART_SCAN}
        )
        async with _s3("list multipart uploads"):
            async for page in pages:
                found += [
                    (upload["Key"], upload["UploadId"])
                    for upload in page.get("Uploads", [])
                    if upload["Initiated"] < started_before
                ]
        return found

    async def delete(self, key: str) -> None:
        async with _s3("DELETE"):
            await self._client.delete_object(Bucket=self._bucket, Key=key)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` and abort its open multipart uploads; returns how
        many objects went. For a namespace deletion: whatever its records no longer name."""
        deleted = 0
        async with _s3("list multipart uploads"):
            reply = await self._client.list_multipart_uploads(Bucket=self._bucket, Prefix=prefix)
        for upload in reply.get("Uploads", []):
            await self.abort_multipart(upload["Key"], upload["UploadId"])
        paginator = self._client.get_paginator("list_objects_v2")
        async with _s3("list objects"):
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    await self._client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    deleted += len(keys)
        return deleted

    async def head(self, key: str) -> Head | None:
        """Size, ETag and type of an object of the storage bucket; None when it is missing."""
        try:
            async with _s3("HEAD"):
                reply = await self._client.head_object(Bucket=self._bucket, Key=key)
        except S3Unavailable as error:
            cause = error.__cause__
            if isinstance(cause, ClientError) and _code(cause) in _MISSING:
                return None
            raise
        return Head(
            size_bytes=int(reply["ContentLength"]),
            etag=str(reply.get("ETag", "")).strip('"'),
            content_type=reply.get("ContentType"),
        )

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The bytes at `key` of the storage bucket, chunk by chunk."""
        return self.read_source(self._bucket, key)

    async def read_source(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        """The bytes of s3://bucket/key on our endpoint, chunk by chunk."""
        try:
            async with _s3("GET"):
                reply = await self._client.get_object(Bucket=bucket, Key=key)
        except S3Unavailable as error:
            cause = error.__cause__
            unreadable = {*_MISSING, "NoSuchBucket", "AccessDenied", "403"}
            if isinstance(cause, ClientError) and _code(cause) in unreadable:
                raise InvalidArgument(f"s3://{bucket}/{key} cannot be read") from cause
            raise
        async with reply["Body"] as body:
            chunks = body.iter_chunks(READ_CHUNK_BYTES)
            while True:
                async with _s3("GET"):  # each chunk within what is left
                    chunk = await anext(chunks, None)
                if chunk is None:
                    return
                yield chunk

    async def read_range(
        self, key: str, *, offset: int, length: int, slice_bytes: int
    ) -> AsyncGenerator[bytes]:
        """`length` bytes from `offset` of the object at `key`, in slices of `slice_bytes` (the
        last one shorter). Read as the caller asks for them: the body is S3's HTTP response, and
        the socket's flow control is the back-pressure; closing this iterator (a cancelled call)
        closes the body, and with it the connection, at once."""
        async with _s3("GET"):
            reply = await self._client.get_object(
                Bucket=self._bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
        async with reply["Body"] as body:
            slices = sliced(body, length, slice_bytes)
            while True:
                async with _s3("GET"):  # each slice within what is left of the call
                    piece = await anext(slices, None)
                if piece is None:
                    return
                yield piece

    async def presigned_put(self, key: str, *, content_type: str, expires_seconds: int) -> str:
        """A URL to PUT the file to directly; the Content-Type is part of the signature."""
        url: str = await self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_seconds,
        )
        return url

    async def presigned_get(self, key: str, *, expires_seconds: int = 3600) -> str:
        url: str = await self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_seconds
        )
        return url
