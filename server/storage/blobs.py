"""Blob bytes in S3, content-addressed by SHA-256 within a namespace.

Streams stay streams: bytes of unknown size go through a multipart upload under a temporary key
while being hashed, then are copied server-side to `{namespace_id}/blobs/{sha256}`.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from server.errors import InvalidArgument, StorageUnavailable
from server.storage.s3 import S3Client

PART_BYTES = 8 * 1024 * 1024  # S3 parts must be >= 5 MiB (but the last)
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Head:
    size_bytes: int
    etag: str  # without quotes
    content_type: str | None


@dataclass(frozen=True)
class StoredBytes:
    storage_key: str
    sha256: str
    size_bytes: int
    head: bytes  # the first bytes, for MIME sniffing


def _unavailable(action: str, error: Exception) -> StorageUnavailable:
    return StorageUnavailable(f"S3 {action} failed: {error}")


class S3BlobStore:
    def __init__(self, client: S3Client, bucket: str, *, presigner: S3Client | None = None) -> None:
        self._client = client
        self._presigner = presigner or client
        self._bucket = bucket

    def url(self, storage_key: str) -> str:
        return f"s3://{self._bucket}/{storage_key}"

    @staticmethod
    def key_for(namespace_id: str, sha256: str) -> str:
        return f"{namespace_id}/blobs/{sha256}"

    async def exists(self, storage_key: str) -> bool:
        return await self.head(storage_key) is not None

    async def put_bytes(
        self, namespace_id: str, content: bytes, *, mime_type: str, force: bool
    ) -> StoredBytes:
        """Store `content` at its content address unless it is there already (or `force`)."""
        digest = hashlib.sha256(content).hexdigest()
        key = self.key_for(namespace_id, digest)
        if force or not await self.exists(key):
            try:
                await self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=content, ContentType=mime_type
                )
            except (BotoCoreError, ClientError) as error:
                raise _unavailable("PUT", error) from error
        return StoredBytes(key, digest, len(content), content[:SNIFF_BYTES])

    async def put_stream(
        self, namespace_id: str, chunks: AsyncIterator[bytes], *, mime_type: str, force: bool
    ) -> StoredBytes:
        """Store a stream of unknown length: multipart under a temporary key, hashed on the way."""
        temporary = f"{namespace_id}/tmp/{uuid.uuid4().hex}"
        hasher, size, head = hashlib.sha256(), 0, b""
        try:
            upload = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=temporary, ContentType=mime_type
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("multipart upload", error) from error
        upload_id, buffer = upload["UploadId"], bytearray()
        parts: list[dict[str, object]] = []
        try:
            async for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                buffer += chunk
                if len(buffer) >= PART_BYTES:
                    parts.append(
                        await self._upload_part(temporary, upload_id, len(parts) + 1, buffer)
                    )
                    buffer = bytearray()
            if buffer or not parts:
                parts.append(await self._upload_part(temporary, upload_id, len(parts) + 1, buffer))
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=temporary,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as error:
            await self._abort(temporary, upload_id)
            if isinstance(error, BotoCoreError | ClientError):
                raise _unavailable("multipart upload", error) from error
            raise
        digest = hasher.hexdigest()
        key = self.key_for(namespace_id, digest)
        try:
            if force or not await self.exists(key):
                await self._client.copy_object(
                    Bucket=self._bucket,
                    Key=key,
                    CopySource={"Bucket": self._bucket, "Key": temporary},
                    ContentType=mime_type,
                    MetadataDirective="REPLACE",
                )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("copy", error) from error
        finally:
            await self.delete(temporary)
        return StoredBytes(key, digest, size, bytes(head))

    async def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytearray
    ) -> dict[str, object]:
        reply = await self._client.upload_part(
            Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(data)
        )
        return {"ETag": reply["ETag"], "PartNumber": number}

    async def _abort(self, key: str, upload_id: str) -> None:
        # Best effort: a lifecycle rule on the bucket removes what is left.
        with contextlib.suppress(BotoCoreError, ClientError):
            await self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id
            )

    async def read_stream(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        """The bytes of s3://bucket/key on our endpoint, chunk by chunk."""
        try:
            reply = await self._client.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in {"NoSuchKey", "NoSuchBucket", "404", "AccessDenied", "403"}:
                raise InvalidArgument(f"s3://{bucket}/{key} cannot be read ({code})") from error
            raise _unavailable("GET", error) from error
        except BotoCoreError as error:
            raise _unavailable("GET", error) from error
        async with reply["Body"] as body:
            async for chunk in body.iter_chunks(1024 * 1024):
                yield chunk

    async def delete(self, storage_key: str) -> None:
        try:
            await self._client.delete_object(Bucket=self._bucket, Key=storage_key)
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("DELETE", error) from error

    async def presigned_put(self, key: str, *, content_type: str, expires_seconds: int) -> str:
        """A URL to PUT the file to directly; the Content-Type is part of the signature."""
        url: str = await self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_seconds,
        )
        return url

    async def head(self, key: str) -> Head | None:
        """Size, ETag and type of an object of the storage bucket; None when it is missing."""
        try:
            reply = await self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise _unavailable("HEAD", error) from error
        except BotoCoreError as error:
            raise _unavailable("HEAD", error) from error
        return Head(
            size_bytes=int(reply["ContentLength"]),
            etag=str(reply.get("ETag", "")).strip('"'),
            content_type=reply.get("ContentType"),
        )

    async def adopt(self, key: str, *, namespace_id: str, force: bool) -> StoredBytes:
        """Hash an uploaded object (streamed) and copy it to its content address."""
        hasher, size, head = hashlib.sha256(), 0, b""
        async for chunk in self.read_stream(self._bucket, key):
            hasher.update(chunk)
            size += len(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
        digest = hasher.hexdigest()
        target = self.key_for(namespace_id, digest)
        try:
            if force or not await self.exists(target):
                await self._client.copy_object(
                    Bucket=self._bucket, Key=target, CopySource={"Bucket": self._bucket, "Key": key}
                )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("copy", error) from error
        return StoredBytes(target, digest, size, head)

    async def presigned_get(self, storage_key: str, *, expires_seconds: int = 3600) -> str:
        url: str = await self._presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": storage_key},
            ExpiresIn=expires_seconds,
        )
        return url
