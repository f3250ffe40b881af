"""Namespaces in MongoDB: unique name per organization; every query carries organization_id."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.models import Namespace, NamespaceChanges
from bucketd.server.domain.query import Filter
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.queries import DEFAULT_LIMITS, QueryLimits, paged

NAMESPACE_PREFIX = "ns_"


def _namespace(doc: Document) -> Namespace:
    return Namespace(
        namespace_id=doc["_id"],
        organization_id=doc["organization_id"],
        namespace_name=doc["namespace_name"],
        description=doc.get("description"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _duplicate(name: str) -> str:
    return f"Namespace '{name}' already exists"


class MongoNamespaces:
    def __init__(
        self, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS
    ) -> None:
        self._limits = limits
        self._namespaces = database["namespaces"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._namespaces.create_index(
                [("organization_id", ASCENDING), ("namespace_name", ASCENDING)], unique=True
            )

    async def insert(self, namespace: Namespace) -> None:
        doc = {
            "_id": namespace.namespace_id,
            "namespace_id": namespace.namespace_id,
            "organization_id": namespace.organization_id,
            "namespace_name": namespace.namespace_name,
            "description": namespace.description,
            "created_at": namespace.created_at,
            "updated_at": namespace.updated_at,
        }
        with translated(duplicate=_duplicate(namespace.namespace_name)):
            await self._namespaces.insert_one(doc)

    async def find(self, organization_id: str, identifier: str) -> Namespace | None:
        """By ns_ id or by name, only within the organization."""
        scope = {"organization_id": organization_id}
        with translated():
            doc = None
            if identifier.startswith(NAMESPACE_PREFIX):
                doc = await self._namespaces.find_one({**scope, "_id": identifier})
            if doc is None:
                doc = await self._namespaces.find_one({**scope, "namespace_name": identifier})
        return _namespace(doc) if doc else None

    async def page(
        self, organization_id: str, *, query: Filter, sort: SortRequest, page: PageRequest
    ) -> tuple[list[Namespace], int]:
        scope = {"organization_id": organization_id}
        docs, total = await paged(
            self._namespaces,
            scope,
            query,
            sort=sort,
            page=page,
            id_field="namespace_id",
            limits=self._limits,
        )
        return [_namespace(doc) for doc in docs], total or 0

    async def update(
        self,
        organization_id: str,
        namespace_id: str,
        changes: NamespaceChanges,
        *,
        now: datetime,
    ) -> Namespace | None:
        changes_set = {k: v for k, v in asdict(changes).items() if v is not None}
        duplicate = _duplicate(changes.namespace_name or "")
        with translated(duplicate=duplicate):
            doc = await self._namespaces.find_one_and_update(
                {"organization_id": organization_id, "_id": namespace_id},
                {"$set": {**changes_set, "updated_at": now}},
                return_document=ReturnDocument.AFTER,
            )
        return _namespace(doc) if doc else None

    async def delete(self, organization_id: str, namespace_id: str) -> bool:
        with translated():
            result = await self._namespaces.delete_one(
                {"organization_id": organization_id, "_id": namespace_id}
            )
        return result.deleted_count == 1
