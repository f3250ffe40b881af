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
from bucketd.server.services.bundle import Services
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_reads import ObjectReads
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


def build_api_keys(stores: Stores, settings: Settings) -> ApiKeyService:
    return ApiKeyService(
        organizations=stores.organizations,
        api_keys=stores.api_keys,
        cache=KeyCache(settings.key_cache_seconds),
        clock=now_ms,
    )


def _upload_limits(settings: Settings) -> UploadLimits:
    return UploadLimits(
        max_bytes=settings.max_upload_bytes,
        async_threshold_bytes=settings.async_confirm_bytes,
        lease=timedelta(seconds=settings.upload_lease_seconds),
    )


def _objects(
    stores: Stores, settings: Settings, buckets: BucketService, blobs: S3BlobStore, fetcher: Fetcher
) -> ObjectService:
    return ObjectService(
        objects=stores.objects,
        buckets=buckets,
        bucket_store=stores.buckets,
        blobs=blobs,
        uploads=stores.uploads,
        ingester=BlobIngester(blobs=blobs, fetcher=fetcher),
        limits=Limits(
            max_inline_bytes=settings.max_inline_bytes, max_blobs=settings.max_blobs_per_object
        ),
        clock=now_ms,
    )


def _streams(
    stores: Stores,
    settings: Settings,
    objects: ObjectService,
    buckets: BucketService,
    blobs: S3BlobStore,
) -> StreamUploads:
    return StreamUploads(
        objects=objects,
        object_store=stores.objects,
        buckets=buckets,
        blobs=blobs,
        sessions=stores.sessions,
        limits=StreamLimits(
            max_blob_bytes=settings.max_stream_blob_bytes,
            max_chunk_bytes=settings.max_stream_chunk_bytes,
        ),
        max_blobs=settings.max_blobs_per_object,
        session_ttl=timedelta(seconds=settings.stream_session_seconds),
        clock=now_ms,
    )


def build_services(
    stores: Stores, settings: Settings, *, blobs: S3BlobStore, fetcher: Fetcher
) -> Services:
    """Every use case, wired to the stores, the blob store and the URL fetcher."""
    buckets = BucketService(buckets=stores.buckets, clock=now_ms)
    objects = _objects(stores, settings, buckets, blobs, fetcher)
    uploads = _upload_limits(settings)
    return Services(
        api_keys=build_api_keys(stores, settings),
        namespaces=NamespaceService(
            namespaces=stores.namespaces, buckets=stores.buckets, clock=now_ms
        ),
        buckets=buckets,
        objects=objects,
        object_reads=ObjectReads(objects=stores.objects, buckets=buckets, blobs=blobs),
        deletions=Deletions(
            objects=stores.objects,
            buckets=buckets,
            bucket_store=stores.buckets,
            blobs=blobs,
            clock=now_ms,
        ),
        uploads=UploadService(
            uploads=stores.uploads, blobs=blobs, buckets=buckets, limits=uploads, clock=now_ms
        ),
        confirmations=UploadConfirmations(
            uploads=stores.uploads,
            blobs=blobs,
            buckets=buckets,
            namespaces=stores.namespaces,
            objects=objects,
            limits=uploads,
            clock=now_ms,
        ),
        streams=_streams(stores, settings, objects, buckets, blobs),
    )
