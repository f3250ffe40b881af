"""Objects and claims in MongoDB. Every query carries namespace_id (and bucket_id).

Claims are single documents whose `_id` is the claimed thing (an idempotency key or a unique-key
value within a bucket): MongoDB's `_id` uniqueness makes the first writer win, atomically, on a
single server or a sharded cluster, without transactions.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import ObjectRecord, SkippedBlob, StoredBlob
from bucketd.server.domain.status import Status
from bucketd.server.errors import AlreadyExists
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


def _record(doc: Document) -> ObjectRecord:
    return ObjectRecord(
        object_id=doc["_id"],
        namespace_id=doc["namespace_id"],
        bucket_id=doc["bucket_id"],
        key_prefix=doc.get("key_prefix"),
        blobs=[StoredBlob(**blob) for blob in doc.get("blobs", [])],
        metadata=doc.get("metadata") or {},
        metadata_layout=doc.get("metadata_layout", "nested"),
        status=Status(doc["status"]),
        error=doc.get("error"),
        content_hash=doc.get("content_hash"),
        skipped=[SkippedBlob(**skipped) for skipped in doc.get("skipped", [])],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _words(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [word for item in value.values() for word in _words(item)]
    if isinstance(value, list):
        return [word for item in value for word in _words(item)]
    return [] if value is None else [str(value)]


def _document(record: ObjectRecord) -> Document:
    doc = asdict(record)
    doc["_id"] = doc.pop("object_id")
    doc["search_text"] = " ".join(_words(record.metadata))  # what `search` matches, with key_prefix
    return doc


class MongoObjects:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._objects = database["objects"]
        self._claims = database["claims"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._objects.create_index(
                [("namespace_id", ASCENDING), ("bucket_id", ASCENDING), ("created_at", ASCENDING)]
            )
            await self._objects.create_index(
                [("namespace_id", ASCENDING), ("blobs.storage_key", ASCENDING)]
            )

    async def insert(self, record: ObjectRecord) -> None:
        with translated():
            await self._objects.insert_one(_document(record))

    async def get(self, namespace_id: str, bucket_id: str, object_id: str) -> ObjectRecord | None:
        with translated():
            doc = await self._objects.find_one(
                {"namespace_id": namespace_id, "bucket_id": bucket_id, "_id": object_id}
            )
        return _record(doc) if doc else None

    async def replace(self, record: ObjectRecord) -> None:
        """Write the whole record (same namespace, bucket and id)."""
        doc = _document(record)
        with translated():
            await self._objects.replace_one(
                {
                    "namespace_id": record.namespace_id,
                    "bucket_id": record.bucket_id,
                    "_id": record.object_id,
                },
                doc,
            )

    async def set_failed(
        self, namespace_id: str, object_id: str, error: str, *, now: datetime
    ) -> None:
        with translated():
            await self._objects.update_one(
                {"namespace_id": namespace_id, "_id": object_id},
                {"$set": {"status": Status.FAILED, "error": error, "updated_at": now}},
            )

    async def delete(self, namespace_id: str, bucket_id: str, object_id: str) -> bool:
        with translated():
            result = await self._objects.delete_one(
                {"namespace_id": namespace_id, "bucket_id": bucket_id, "_id": object_id}
            )
        return result.deleted_count == 1

    async def page(
        self,
        namespace_id: str,
        bucket_id: str,
        *,
        query: dict[str, Any],
        sort: SortRequest,
        page: PageRequest,
        count: bool,
    ) -> tuple[list[ObjectRecord], int | None]:
        scoped = {"$and": [{"namespace_id": namespace_id, "bucket_id": bucket_id}, query]}
        direction = DESCENDING if sort.descending else ASCENDING
        with translated():
            total = await self._objects.count_documents(scoped) if count else None
            cursor = self._objects.find(scoped).sort([(sort.field, direction), ("_id", direction)])
            docs = await cursor.skip(page.offset).limit(page.limit).to_list()
        return [_record(doc) for doc in docs], total

    async def holder_of_hash(self, namespace_id: str, bucket_id: str, digest: str) -> str | None:
        """An object of the bucket that already holds bytes with this SHA-256."""
        with translated():
            doc = await self._objects.find_one(
                {
                    "namespace_id": namespace_id,
                    "bucket_id": bucket_id,
                    "blobs.hash": digest,
                    "status": {"$ne": Status.FAILED},
                },
                {"_id": 1},
            )
        return doc["_id"] if doc else None

    async def references(self, namespace_id: str, storage_key: str) -> int:
        with translated():
            return await self._objects.count_documents(
                {"namespace_id": namespace_id, "blobs.storage_key": storage_key}
            )

    async def bucket_storage_keys(self, namespace_id: str, bucket_id: str) -> set[str]:
        with translated():
            docs = await self._objects.find(
                {"namespace_id": namespace_id, "bucket_id": bucket_id},
                {"blobs.storage_key": 1},
            ).to_list()
        return {b["storage_key"] for d in docs for b in d.get("blobs", []) if b.get("storage_key")}

    async def delete_bucket(self, namespace_id: str, bucket_id: str) -> int:
        with translated():
            result = await self._objects.delete_many(
                {"namespace_id": namespace_id, "bucket_id": bucket_id}
            )
            await self._claims.delete_many({"namespace_id": namespace_id, "bucket_id": bucket_id})
        return result.deleted_count

    async def claim(
        self, claim_id: str, *, namespace_id: str, bucket_id: str, object_id: str
    ) -> str | None:
        """Claim `claim_id` for `object_id`; None when won, else the object that holds it."""
        doc = {
            "_id": claim_id,
            "namespace_id": namespace_id,
            "bucket_id": bucket_id,
            "object_id": object_id,
        }
        try:
            with translated(duplicate="claimed"):
                await self._claims.insert_one(doc)
            return None
        except AlreadyExists:
            pass  # somebody claimed it first: answer what they claimed it for
        with translated():
            existing = await self._claims.find_one({"_id": claim_id})
        return existing["object_id"] if existing else None

    async def find_claim(self, claim_id: str) -> str | None:
        with translated():
            existing = await self._claims.find_one({"_id": claim_id})
        return existing["object_id"] if existing else None

    async def release(self, namespace_id: str, object_id: str) -> None:
        with translated():
            await self._claims.delete_many({"namespace_id": namespace_id, "object_id": object_id})
