"""bucketd's MongoDB indexes: created where missing, then listed by name (`collection.index`).

Run at start-up, and by POST /v1/namespaces/{id}/ensure-indexes. Creating an index that
exists is a no-op, so this is safe to run on a live database, by several instances at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


@dataclass(frozen=True)
class ShardKey:
    """How a collection is sharded on a MongoDB cluster (docs/operating.md shows this table):
    `fields` in order (none: left unsharded, small and read by every instance), and why. Every
    unique index starts with the key (MongoDB cannot keep one that does not), and the hot paths'
    queries carry it, so they reach one shard (tests/integration/test_sharding.py checks both)."""

    fields: tuple[str, ...]
    why: str


SHARD_KEYS = {
    "objects": ShardKey(
        ("namespace_id", "bucket_id", "_id"),
        "every object query names its namespace and bucket; the id spreads a large bucket",
    ),
    "uploads": ShardKey(
        ("namespace_id", "bucket_id", "_id"),
        "uploads are listed and read per namespace and bucket, like objects",
    ),
    "contents": ShardKey(
        ("namespace_id", "dedup_key"),
        "the unique (namespace_id, dedup_key) index that deduplicates bytes is the key itself",
    ),
    "claims": ShardKey(
        ("_id",),
        "a claim's _id is what it claims: only a shard key on _id keeps it unique cluster-wide",
    ),
    "buckets": ShardKey(
        ("namespace_id",),
        "bucket names are unique per namespace (the unique index starts with namespace_id)",
    ),
    "namespaces": ShardKey(
        ("organization_id",),
        "namespace names are unique per organization",
    ),
    "tasks": ShardKey(("organization_id", "_id"), "tasks are listed and read per organization"),
    "organizations": ShardKey((), "a few small documents, read when a key is checked"),
    "api_keys": ShardKey((), "a few small documents; the unique key_hash is looked up on its own"),
}


class HasIndexes(Protocol):
    async def ensure_indexes(self) -> None: ...


class MongoIndexes:
    def __init__(self, database: AsyncDatabase[Document], owners: Sequence[HasIndexes]) -> None:
        self._database = database
        self._owners = owners

    async def ensure(self) -> list[str]:
        """Create what is missing; answer the collections indexed (never the indexes
        themselves: their names and keys are bucketd's business, not a tenant's)."""
        for owner in self._owners:
            await owner.ensure_indexes()
        with translated():
            return sorted(await self._database.list_collection_names())
