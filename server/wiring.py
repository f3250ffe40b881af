"""Builds the stores and the use cases from one database, one S3 client and one Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.object_plan import Limits
from bucketd.server.domain.streams import StreamLimits
from bucketd.server.services.api_keys import ApiKeyService, KeyCache
from bucketd.server.services.blob_ingest import BlobIngester
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_queries import ObjectQueries
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.ports import Fetcher
from bucketd.server.services.streaming import StreamUploads
from bucketd.server.services.upload_confirm import UploadConfirmations
from bucketd.server.services.uploads import UploadLimits, UploadService
from bucketd.server.settings import Settings
from bucketd.server.storage.api_keys import MongoApiKeys, MongoOrganizations
from bucketd.server.storage.blobs import S3BlobStore
from bucketd.server.storage.buckets import MongoBuckets
from bucketd.server.storage.documents import now_ms
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.namespaces import MongoNamespaces
from bucketd.server.storage.objects import MongoObjects
from bucketd.server.storage.sessions import MongoSessions
from bucketd.server.storage.uploads import MongoUploads


@dataclass(frozen=True)
class Services:
    api_keys: ApiKeyService
    namespaces: NamespaceService
    buckets: BucketService
    objects: ObjectService
    object_queries: ObjectQueries
    uploads: UploadService
    confirmations: UploadConfirmations
    streams: StreamUploads


@dataclass(frozen=True)
class Stores:
    organizations: MongoOrganizations
    api_keys: MongoApiKeys
    namespaces: MongoNamespaces
    buckets: MongoBuckets
    objects: MongoObjects
    uploads: MongoUploads
    sessions: MongoSessions

    @classmethod
    def on(cls, database: AsyncDatabase[Document]) -> Stores:
        return cls(
            organizations=MongoOrganizations(database),
            api_keys=MongoApiKeys(database),
            namespaces=MongoNamespaces(database),
            buckets=MongoBuckets(database),
            objects=MongoObjects(database),
            uploads=MongoUploads(database),
            sessions=MongoSessions(database),
        )

    async def ensure_indexes(self) -> None:
        """The indexes bucketd relies on; idempotent, run at start-up."""
        await self.organizations.ensure_indexes()
        await self.api_keys.ensure_indexes()
        await self.namespaces.ensure_indexes()
        await self.buckets.ensure_indexes()
        await self.objects.ensure_indexes()
        await self.uploads.ensure_indexes()

    def api_key_service(self, settings: Settings) -> ApiKeyService:
        return ApiKeyService(
            organizations=self.organizations,
            api_keys=self.api_keys,
            cache=KeyCache(settings.key_cache_seconds),
            clock=now_ms,
        )

    def services(self, settings: Settings, *, blobs: S3BlobStore, fetcher: Fetcher) -> Services:
        buckets = BucketService(buckets=self.buckets, clock=now_ms)
        limits = Limits(
            max_inline_bytes=settings.max_inline_bytes, max_blobs=settings.max_blobs_per_object
        )
        upload_limits = UploadLimits(
            max_bytes=settings.max_upload_bytes,
            async_threshold_bytes=settings.async_confirm_bytes,
            lease=timedelta(seconds=settings.upload_lease_seconds),
        )
        objects = ObjectService(
            objects=self.objects,
            buckets=buckets,
            bucket_store=self.buckets,
            blobs=blobs,
            uploads=self.uploads,
            ingester=BlobIngester(blobs=blobs, fetcher=fetcher),
            limits=limits,
            clock=now_ms,
        )
        return Services(
            api_keys=self.api_key_service(settings),
            namespaces=NamespaceService(
                namespaces=self.namespaces, buckets=self.buckets, clock=now_ms
            ),
            buckets=buckets,
            objects=objects,
            object_queries=ObjectQueries(
                objects=self.objects,
                buckets=buckets,
                bucket_store=self.buckets,
                blobs=blobs,
                clock=now_ms,
            ),
            uploads=UploadService(
                uploads=self.uploads,
                blobs=blobs,
                buckets=buckets,
                limits=upload_limits,
                clock=now_ms,
            ),
            confirmations=UploadConfirmations(
                uploads=self.uploads,
                blobs=blobs,
                buckets=buckets,
                namespaces=self.namespaces,
                objects=objects,
                limits=upload_limits,
                clock=now_ms,
            ),
            streams=StreamUploads(
                objects=objects,
                object_store=self.objects,
                buckets=buckets,
                blobs=blobs,
                sessions=self.sessions,
                limits=StreamLimits(
                    max_blob_bytes=settings.max_stream_blob_bytes,
                    max_chunk_bytes=settings.max_stream_chunk_bytes,
                ),
                max_blobs=settings.max_blobs_per_object,
                session_ttl=timedelta(seconds=settings.stream_session_seconds),
                clock=now_ms,
            ),
        )
