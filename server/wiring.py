"""Builds the stores and the use cases from one database and one Settings."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from server.services.api_keys import ApiKeyService, KeyCache
from server.services.buckets import BucketService
from server.services.namespaces import NamespaceService
from server.settings import Settings
from server.storage.api_keys import MongoApiKeys, MongoOrganizations
from server.storage.buckets import MongoBuckets
from server.storage.documents import now_ms
from server.storage.mongo import Document
from server.storage.namespaces import MongoNamespaces


@dataclass(frozen=True)
class Services:
    api_keys: ApiKeyService
    namespaces: NamespaceService
    buckets: BucketService


@dataclass(frozen=True)
class Stores:
    organizations: MongoOrganizations
    api_keys: MongoApiKeys
    namespaces: MongoNamespaces
    buckets: MongoBuckets

    @classmethod
    def on(cls, database: AsyncDatabase[Document]) -> Stores:
        return cls(
            organizations=MongoOrganizations(database),
            api_keys=MongoApiKeys(database),
            namespaces=MongoNamespaces(database),
            buckets=MongoBuckets(database),
        )

    async def ensure_indexes(self) -> None:
        """The unique indexes that keep names unique; idempotent, run at start-up."""
        await self.organizations.ensure_indexes()
        await self.api_keys.ensure_indexes()
        await self.namespaces.ensure_indexes()
        await self.buckets.ensure_indexes()

    def services(self, settings: Settings) -> Services:
        return Services(
            api_keys=ApiKeyService(
                organizations=self.organizations,
                api_keys=self.api_keys,
                cache=KeyCache(settings.key_cache_seconds),
                clock=now_ms,
            ),
            namespaces=NamespaceService(
                namespaces=self.namespaces, buckets=self.buckets, clock=now_ms
            ),
            buckets=BucketService(buckets=self.buckets, clock=now_ms),
        )
