"""Organizations and API keys in MongoDB. Keys are stored as SHA-256 digests only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import ApiKey, Organization
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


def _organization(doc: Document) -> Organization:
    return Organization(organization_id=doc["_id"], name=doc["name"], created_at=doc["created_at"])


def _key(doc: Document) -> ApiKey:
    return ApiKey(
        key_id=doc["_id"],
        organization_id=doc["organization_id"],
        digest=doc["key_hash"],
        prefix=doc["prefix"],
        test=doc["test"],
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        revoked_at=doc.get("revoked_at"),
    )


class MongoOrganizations:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._organizations = database["organizations"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._organizations.create_index([("name", ASCENDING)], unique=True)

    async def get_or_create(self, name: str, *, now: datetime) -> Organization:
        """Atomic upsert on the unique name: concurrent callers get the same organization."""
        with translated():
            doc = await self._organizations.find_one_and_update(
                {"name": name},
                {"$setOnInsert": {"_id": new_id("org_"), "created_at": now}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        assert doc is not None, "an upsert returns the document"
        return _organization(doc)

    async def find_by_name(self, name: str) -> Organization | None:
        with translated():
            doc = await self._organizations.find_one({"name": name})
        return _organization(doc) if doc else None

    async def names(self, organization_ids: list[str]) -> dict[str, str]:
        with translated():
            docs = await self._organizations.find({"_id": {"$in": organization_ids}}).to_list()
        return {doc["_id"]: doc["name"] for doc in docs}


class MongoApiKeys:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._keys = database["api_keys"]

    async def ensure_indexes(self) -> None:
        with translated():
            await self._keys.create_index([("key_hash", ASCENDING)], unique=True)
            await self._keys.create_index([("organization_id", ASCENDING)])

    async def insert(self, key: ApiKey) -> None:
        doc: dict[str, Any] = {
            "_id": key.key_id,
            "organization_id": key.organization_id,
            "key_hash": key.digest,
            "prefix": key.prefix,
            "test": key.test,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
        }
        with translated(duplicate="This API key already exists"):
            await self._keys.insert_one(doc)

    async def find_by_digest(self, digest: str) -> ApiKey | None:
        with translated():
            doc = await self._keys.find_one({"key_hash": digest})
        return _key(doc) if doc else None

    async def find_by_id_or_prefix(self, value: str) -> list[ApiKey]:
        with translated():
            docs = await self._keys.find({"$or": [{"_id": value}, {"prefix": value}]}).to_list()
        return [_key(doc) for doc in docs]

    async def any_active(self) -> bool:
        with translated():
            return await self._keys.find_one({"revoked_at": None}, {"_id": 1}) is not None

    async def list_keys(self, organization_id: str | None) -> list[ApiKey]:
        query = {"organization_id": organization_id} if organization_id else {}
        with translated():
            docs = await self._keys.find(query).sort("created_at", ASCENDING).to_list()
        return [_key(doc) for doc in docs]

    async def revoke(self, key_id: str, *, now: datetime) -> None:
        with translated():
            await self._keys.update_one(
                {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": now}}
            )
