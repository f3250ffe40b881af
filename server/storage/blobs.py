"""Blob bytes in S3, content-addressed by SHA-256 within a namespace.

Streams stay streams: bytes of unknown size go through a multipart upload under a temporary key
while being hashed, then are copied server-side to `{namespace_id}/blobs/{sha256}`.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bucketd.server.domain.stored import Head, StoredBytes
from bucketd.server.errors import InvalidArgument, StorageUnavailable
from bucketd.server.storage.s3 import S3Client

# S3 parts must be >= 5 MiB (but the last); 5 MiB parts keep 1,024 parts under 5 GiB blobs,
# far from the 10,000-part cap, with the smallest buffer per blob.
PART_BYTES = 5 * 1024 * 1024
SNIFF_BYTES = 8192


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
        writer = await self.start_multipart(namespace_id, mime_type=mime_type)
        try:
            async for chunk in chunks:
                await writer.write(chunk)
        except BaseException:
            await writer.abort()
            raise
        return await self.finish(writer, namespace_id=namespace_id, force=force)

    async def finish(
        self, writer: MultipartWriter, *, namespace_id: str, force: bool
    ) -> StoredBytes:
        """End a writer: when its bytes are stored already, abort the new parts (dedup);
        else complete the multipart upload and move it to its content address."""
        digest = writer.sha256
        if digest is not None and not force:
            target = self.key_for(namespace_id, digest)
            if await self.exists(target):
                await writer.abort()
                return StoredBytes(target, digest, writer.size, writer.head)
        try:
            await writer.complete()
        except BaseException:
            await writer.abort()
            raise
        if digest is not None and writer.key == self.key_for(namespace_id, digest):
            return StoredBytes(writer.key, digest, writer.size, writer.head)  # written in place
        return await self.promote(writer, namespace_id=namespace_id, force=force)

    async def start_multipart(
        self, namespace_id: str, *, mime_type: str, sha256: str | None = None
    ) -> MultipartWriter:
        """A writer under a temporary key, or — when the caller vouches for the SHA-256 (and
        checks it before `finish`) — straight at the content address, which saves a copy."""
        key = (
            self.key_for(namespace_id, sha256)
            if sha256
            else f"{namespace_id}/tmp/{uuid.uuid4().hex}"
        )
        try:
            reply = await self._client.create_multipart_upload(
                Bucket=self._bucket, Key=key, ContentType=mime_type
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("multipart upload", error) from error
        return MultipartWriter(self._client, self._bucket, key, reply["UploadId"])

    def resume_multipart(
        self, key: str, upload_id: str, parts: list[dict[str, Any]]
    ) -> MultipartWriter:
        """A writer that continues after the `parts` already uploaded (a resumed session)."""
        return MultipartWriter(self._client, self._bucket, key, upload_id, parts=parts)

    async def promote(
        self, writer: MultipartWriter, *, namespace_id: str, force: bool
    ) -> StoredBytes:
        """Copy a completed temporary object to its content address, then drop the temporary."""
        digest, head = writer.sha256, writer.head
        if digest is None:  # resumed: the bytes of earlier streams were never hashed here
            digest, head = await self._hash(writer.key)
        try:
            await self._copy_to_address(writer.key, self.key_for(namespace_id, digest), force)
        finally:
            await self.delete(writer.key)
        return StoredBytes(self.key_for(namespace_id, digest), digest, writer.size, head)

    async def _hash(self, key: str) -> tuple[str, bytes]:
        hasher, head = hashlib.sha256(), b""
        async for chunk in self.read_stream(self._bucket, key):
            hasher.update(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[: SNIFF_BYTES - len(head)]
        return hasher.hexdigest(), head

    async def _copy_to_address(self, source: str, target: str, force: bool) -> None:
        try:
            if force or not await self.exists(target):
                await self._client.copy_object(
                    Bucket=self._bucket,
                    Key=target,
                    CopySource={"Bucket": self._bucket, "Key": source},
                    MetadataDirective="COPY",
                )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("copy", error) from error

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
        head = await self.head(key)
        if head is None:
            raise InvalidArgument(f"the uploaded file {key!r} is gone")
        digest, first = await self._hash(key)
        await self._copy_to_address(key, self.key_for(namespace_id, digest), force)
        return StoredBytes(self.key_for(namespace_id, digest), digest, head.size_bytes, first)

    async def presigned_get(self, storage_key: str, *, expires_seconds: int = 3600) -> str:
        url: str = await self._presigner.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": storage_key},
            ExpiresIn=expires_seconds,
        )
        return url


class MultipartWriter:
    """One blob's bytes into an S3 multipart upload, in parts of PART_BYTES, hashed on the way.

    Holds at most one part in memory. `persisted` counts the bytes of uploaded parts: what
    survives if the stream breaks. A writer resumed after earlier parts cannot know their hash.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        parts: list[dict[str, Any]] | None = None,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self.key = key
        self.upload_id = upload_id
        self.parts: list[dict[str, Any]] = list(parts or [])
        self.persisted = sum(int(part["Size"]) for part in self.parts)
        self.size = self.persisted
        self._hasher = None if self.parts else hashlib.sha256()
        self.head = b""
        self._buffer = bytearray()

    @property
    def sha256(self) -> str | None:
        return self._hasher.hexdigest() if self._hasher is not None else None

    async def write(self, chunk: bytes) -> None:
        if self._hasher is not None:
            self._hasher.update(chunk)
        if len(self.head) < SNIFF_BYTES:
            self.head += chunk[: SNIFF_BYTES - len(self.head)]
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= PART_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        number = len(self.parts) + 1
        data, self._buffer = self._buffer, bytearray()  # handed over, not copied
        try:
            reply = await self._client.upload_part(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("upload part", error) from error
        self.parts.append({"ETag": reply["ETag"], "PartNumber": number, "Size": len(data)})
        self.persisted += len(data)

    async def complete(self) -> None:
        if self._buffer or not self.parts:
            await self._flush()
        parts = [{"ETag": p["ETag"], "PartNumber": p["PartNumber"]} for p in self.parts]
        try:
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
            )
        except (BotoCoreError, ClientError) as error:
            raise _unavailable("complete multipart upload", error) from error

    async def abort(self) -> None:
        # Best effort: a lifecycle rule on the bucket removes what is left.
        with contextlib.suppress(BotoCoreError, ClientError):
            await self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self.upload_id
            )
