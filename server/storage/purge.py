"""Bulk removal of what a bucket or a namespace holds in MongoDB, for the deletion tasks.

Every method is scoped by namespace_id (and bucket_id when given) and idempotent: a task that
dies midway runs them again.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.contents import holder_ref
from bucketd.server.domain.writes import WriteLease
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.object_documents import write_lease

BATCH = 500


def _scope(namespace_id: str, bucket_id: str | None) -> dict[str, Any]:
    if bucket_id is None:
        return {"namespace_id": namespace_id}
    return {"namespace_id": namespace_id, "bucket_id": bucket_id}


class MongoPurge:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database

    async def bucket_ids(self, namespace_id: str) -> list[str]:
        with translated():
            docs = (
                await self._database["buckets"]
                .find({"namespace_id": namespace_id}, {"_id": 1})
                .to_list()
            )
        return [doc["_id"] for doc in docs]

    async def object_batch(
        self, namespace_id: str, bucket_id: str | None
    ) -> list[tuple[str, list[str], WriteLease | None]]:
        """Up to BATCH objects: (object_id, the holder references it may hold, its write)."""
        with translated():
            docs = (
                await self._database["objects"]
                .find(
                    _scope(namespace_id, bucket_id), {"blobs.blob_id": 1, "write": 1, "releases": 1}
                )
                .limit(BATCH)
                .to_list()
            )
        batch = []
        for doc in docs:
            write = write_lease(doc["write"]) if doc.get("write") else None
            refs = [holder_ref(doc["_id"], blob["blob_id"]) for blob in doc.get("blobs", [])]
            refs += (write.refs if write else []) + doc.get("releases", [])
            batch.append((doc["_id"], refs, write))
        return batch

    async def delete_objects(self, namespace_id: str, object_ids: list[str]) -> int:
        with translated():
            await self._database["claims"].delete_many(
                {"namespace_id": namespace_id, "object_id": {"$in": object_ids}}
            )
            result = await self._database["objects"].delete_many(
                {"namespace_id": namespace_id, "_id": {"$in": object_ids}}
            )
        return result.deleted_count

    async def upload_batch(
        self, namespace_id: str, bucket_id: str | None
    ) -> list[tuple[str, str, str]]:
        """Up to BATCH uploads: (upload_id, its file's key, its status)."""
        with translated():
            docs = (
                await self._database["uploads"]
                .find(_scope(namespace_id, bucket_id), {"s3_key": 1, "status": 1})
                .limit(BATCH)
                .to_list()
            )
        return [(doc["_id"], doc["s3_key"], doc["status"]) for doc in docs]

    async def delete_uploads(self, namespace_id: str, upload_ids: list[str]) -> int:
        with translated():
            result = await self._database["uploads"].delete_many(
                {"namespace_id": namespace_id, "_id": {"$in": upload_ids}}
            )
        return result.deleted_count

    async def delete_claims(self, namespace_id: str, bucket_id: str | None) -> None:
        with translated():
            await self._database["claims"].delete_many(_scope(namespace_id, bucket_id))

    async def delete_bucket(self, namespace_id: str, bucket_id: str) -> None:
        with translated():
            await self._database["buckets"].delete_one(
                {"namespace_id": namespace_id, "_id": bucket_id}
            )

    async def delete_contents(self, namespace_id: str) -> int:
        """The namespace's content records (its bytes are deleted by prefix)."""
        with translated():
            result = await self._database["contents"].delete_many({"namespace_id": namespace_id})
        return result.deleted_count
