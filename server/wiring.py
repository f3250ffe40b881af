"""Builds the stores and the use cases from one database, one S3 client and one Settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.object_plan import Limits
from bucketd.server.domain.streams import StreamLimits
from bucketd.server.domain.tasks import TaskType
from bucketd.server.services.api_keys import ApiKeyService, KeyCache
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.bundle import Services
from bucketd.server.services.cache import TtlCache
from bucketd.server.services.contents import Contents
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.drafts import Drafts
from bucketd.server.services.janitor import Janitor
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_claims import ObjectClaims
from bucketd.server.services.object_reads import ObjectReads
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.ports import BlobStorage, Fetcher
from bucketd.server.services.purge import Purge
from bucketd.server.services.streams import StreamUploads
from bucketd.server.services.tasks import Tasks
from bucketd.server.services.upload_confirm import UploadConfirmations
from bucketd.server.services.uploads import UploadLimits, UploadService
from bucketd.server.settings import Settings
from bucketd.server.storage.api_keys import MongoApiKeys, MongoOrganizations
from bucketd.server.storage.buckets import MongoBuckets
from bucketd.server.storage.claims import MongoClaims
from bucketd.server.storage.contents import MongoContents
from bucketd.server.storage.documents import now_ms
from bucketd.server.storage.indexes import MongoIndexes
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.namespaces import MongoNamespaces
from bucketd.server.storage.objects import MongoObjects
from bucketd.server.storage.purge import MongoPurge
from bucketd.server.storage.tasks import MongoTasks
from bucketd.server.storage.uploads import MongoUploads
from bucketd.server.storage.writes import MongoWrites


@dataclass(frozen=True)
class Stores:
    organizations: MongoOrganizations
    api_keys: MongoApiKeys
    namespaces: MongoNamespaces
    buckets: MongoBuckets
    objects: MongoObjects
    writes: MongoWrites
    claims: MongoClaims
    contents: MongoContents
    uploads: MongoUploads
    tasks: MongoTasks
    purge: MongoPurge
    indexes: MongoIndexes

    @classmethod
    def on(cls, database: AsyncDatabase[Document]) -> Stores:
        organizations, api_keys = MongoOrganizations(database), MongoApiKeys(database)
        namespaces, buckets = MongoNamespaces(database), MongoBuckets(database)
        objects, contents = MongoObjects(database), MongoContents(database)
        uploads, tasks = MongoUploads(database), MongoTasks(database)
        owners = (organizations, api_keys, namespaces, buckets, objects, contents, uploads, tasks)
        return cls(
            organizations=organizations,
            api_keys=api_keys,
            namespaces=namespaces,
            buckets=buckets,
            objects=objects,
            writes=MongoWrites(database),
            claims=MongoClaims(database),
            contents=contents,
            uploads=uploads,
            tasks=tasks,
            purge=MongoPurge(database),
            indexes=MongoIndexes(database, owners),
        )

    async def ensure_indexes(self) -> None:
        """The indexes bucketd relies on; idempotent, run at start-up."""
        await self.indexes.ensure()


def build_api_keys(stores: Stores, settings: Settings) -> ApiKeyService:
    return ApiKeyService(
        organizations=stores.organizations,
        api_keys=stores.api_keys,
        cache=KeyCache(settings.key_cache_seconds),
        clock=now_ms,
    )


@dataclass(frozen=True)
class _Ingest:
    """The pieces every way into bucketd writes through."""

    contents: Contents
    drafts: Drafts
    sources: BlobSources
    objects: ObjectService


def _ingest(
    stores: Stores,
    settings: Settings,
    buckets: BucketService,
    storage: BlobStorage,
    fetcher: Fetcher,
) -> _Ingest:
    contents = Contents(registry=stores.contents, storage=storage, clock=now_ms)
    drafts = Drafts(
        objects=stores.objects,
        writes=stores.writes,
        claims=ObjectClaims(stores.claims, stores.objects),
        registry=stores.contents,
        storage=storage,
        lease=timedelta(seconds=settings.write_lease_seconds),
        clock=now_ms,
    )
    sources = BlobSources(
        contents=contents,
        registry=stores.contents,
        fetcher=fetcher,
        uploads=stores.uploads,
        objects=stores.objects,
    )
    objects = ObjectService(
        objects=stores.objects,
        buckets=buckets,
        drafts=drafts,
        sources=sources,
        limits=Limits(
            max_inline_bytes=settings.max_inline_bytes,
            max_blobs=settings.max_blobs_per_object,
            max_metadata_bytes=settings.max_metadata_bytes,
            s3_source_buckets=frozenset(settings.s3_source_buckets) - {settings.s3_bucket},
        ),
        clock=now_ms,
    )
    return _Ingest(contents, drafts, sources, objects)


def _streams(
    stores: Stores, settings: Settings, ingest: _Ingest, buckets: BucketService
) -> StreamUploads:
    return StreamUploads(
        objects=ingest.objects,
        buckets=buckets,
        drafts=ingest.drafts,
        contents=ingest.contents,
        sources=ingest.sources,
        writes=stores.writes,
        limits=StreamLimits(
            max_blob_bytes=settings.max_stream_blob_bytes,
            max_chunk_bytes=settings.max_stream_chunk_bytes,
        ),
        session_ttl=timedelta(seconds=settings.stream_session_seconds),
        # a stream's hold on its session outlives the idle timeout that would end the stream
        stream_hold=timedelta(seconds=2 * settings.stream_idle_seconds),
        clock=now_ms,
    )


def _confirmations(
    stores: Stores,
    settings: Settings,
    ingest: _Ingest,
    buckets: BucketService,
    *,
    storage: BlobStorage,
    tasks: Tasks,
) -> UploadConfirmations:
    return UploadConfirmations(
        uploads=stores.uploads,
        storage=storage,
        contents=ingest.contents,
        buckets=buckets,
        namespaces=stores.namespaces,
        objects=ingest.objects,
        tasks=tasks,
        limits=_upload_limits(settings),
        clock=now_ms,
    )


def _handle_tasks(
    tasks: Tasks, stores: Stores, storage: BlobStorage, confirmations: UploadConfirmations
) -> None:
    """Which work each task type runs."""
    purge = Purge(store=stores.purge, registry=stores.contents, storage=storage, clock=now_ms)
    tasks.handle(TaskType.DELETE_BUCKET, purge.delete_bucket)
    tasks.handle(TaskType.DELETE_NAMESPACE, purge.delete_namespace)
    tasks.handle(TaskType.CONFIRM_UPLOADS, confirmations.run_batch)


def _upload_limits(settings: Settings) -> UploadLimits:
    return UploadLimits(
        max_bytes=settings.max_upload_bytes,
        async_threshold_bytes=settings.async_confirm_bytes,
        lease=timedelta(seconds=settings.upload_lease_seconds),
        max_metadata_bytes=settings.max_metadata_bytes,
    )


def build_services(
    stores: Stores, settings: Settings, *, storage: BlobStorage, fetcher: Fetcher
) -> Services:
    """Every use case, wired to the stores, the blob storage and the URL fetcher."""
    buckets = BucketService(
        buckets=stores.buckets,
        objects=stores.objects,
        clock=now_ms,
        max_metadata_bytes=settings.max_metadata_bytes,
    )
    ingest = _ingest(stores, settings, buckets, storage, fetcher)
    tasks = Tasks(
        store=stores.tasks,
        uploads=stores.uploads,
        lease=timedelta(seconds=settings.task_lease_seconds),
        clock=now_ms,
    )
    confirmations = _confirmations(stores, settings, ingest, buckets, storage=storage, tasks=tasks)
    _handle_tasks(tasks, stores, storage, confirmations)
    namespaces = NamespaceService(
        namespaces=stores.namespaces,
        buckets=stores.buckets,
        objects=stores.objects,
        indexes=stores.indexes,
        cache=TtlCache(settings.namespace_cache_seconds),
        clock=now_ms,
    )
    return Services(
        api_keys=build_api_keys(stores, settings),
        namespaces=namespaces,
        buckets=buckets,
        objects=ingest.objects,
        object_reads=ObjectReads(objects=stores.objects, buckets=buckets, storage=storage),
        deletions=Deletions(
            objects=stores.objects,
            claims=stores.claims,
            registry=stores.contents,
            buckets=buckets,
            namespaces=namespaces,
            tasks=tasks,
            clock=now_ms,
        ),
        uploads=UploadService(
            uploads=stores.uploads,
            storage=storage,
            registry=stores.contents,
            buckets=buckets,
            limits=_upload_limits(settings),
            clock=now_ms,
        ),
        confirmations=confirmations,
        streams=_streams(stores, settings, ingest, buckets),
        tasks=tasks,
        janitor=Janitor(
            writes=stores.writes,
            registry=stores.contents,
            storage=storage,
            confirmations=confirmations,
            tasks=tasks,
            lease=timedelta(seconds=settings.write_lease_seconds),
            grace=timedelta(seconds=settings.blob_grace_seconds),
            clock=now_ms,
        ),
    )
