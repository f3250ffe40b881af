"""bucketd's MongoDB indexes: created where missing, then listed by name (`collection.index`).

Run at start-up, and by POST /v1/namespaces/{id}/ensure-indexes. Creating an index that
exists is a no-op, so this is safe to run on a live database, by several instances at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


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
