"""Claims in MongoDB: documents whose `_id` is the claimed thing (an idempotency key, or a
unique-key value within a bucket). MongoDB's `_id` uniqueness makes the first writer win,
atomically, on a single server or a sharded cluster, without transactions.
"""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.errors import AlreadyExists
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


class MongoClaims:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._claims = database["claims"]

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
        return await self.find_claim(claim_id)

    async def find_claim(self, claim_id: str) -> str | None:
        with translated():
            existing = await self._claims.find_one({"_id": claim_id})
        return existing["object_id"] if existing else None

    async def release_claims(
        self, namespace_id: str, object_id: str, claim_ids: list[str] | None = None
    ) -> None:
        """Every claim `object_id` holds: by their ids when its record kept them (one shard
        each on a sharded cluster), else (a record stored before) by namespace and object."""
        if claim_ids is None:
            where: Document = {"namespace_id": namespace_id, "object_id": object_id}
        elif claim_ids:
            where = {"_id": {"$in": claim_ids}, "object_id": object_id}
        else:
            return
        with translated():
            await self._claims.delete_many(where)
