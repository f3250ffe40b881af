"""The composition root: every store and use case, built from one Settings.

server/runtime.py opens what they are built over in a process (MongoDB, S3, the URL fetcher),
into the exit stack of its owner (bucketd/process.py); the unit tests build the same use cases
over in-memory fakes of the stores (tests/unit/fakes), so the wiring they test is this one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.object_plan import Limits
from bucketd.server.domain.streams import StreamLimits
from bucketd.server.domain.tasks import TaskType
from bucketd.server.services.admission import UploadSlots
from bucketd.server.services.api_keys import ApiKeyService, KeyCache
from bucketd.server.services.blob_sources import BlobSources
from bucketd.server.services.buckets import BucketService
from bucketd.server.services.bundle import Services
from bucketd.server.services.cache import TtlCache
from bucketd.server.services.content_writer import PART_BYTES
from bucketd.server.services.contents import Contents
from bucketd.server.services.deletions import Deletions
from bucketd.server.services.drafts import Drafts
from bucketd.server.services.janitor import Janitor
from bucketd.server.services.namespaces import NamespaceService
from bucketd.server.services.object_claims import ObjectClaims
from bucketd.server.services.object_reads import ObjectReads
from bucketd.server.services.objects import ObjectService
from bucketd.server.services.ports import (
    ApiKeyStore,
    BlobStorage,
    BucketStore,
    ClaimStore,
    ContentRegistry,
    Fetcher,
    IndexStore,
    NamespaceStore,
    ObjectStore,
    OrganizationStore,
    PurgeStore,
    TaskStore,
    UploadStore,
    WriteStore,
)
from bucketd.server.services.purge import Purge
from bucketd.server.services.rate_limits import RateLimits
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
from bucketd.server.storage.queries import DEFAULT_LIMITS, QueryLimits
from bucketd.server.storage.tasks import MongoTasks
from bucketd.server.storage.uploads import MongoUploads
from bucketd.server.storage.writes import MongoWrites

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Stores:
    """One adapter per storage port (MongoDB in production: `Stores.on`)."""

    organizations: OrganizationStore
    api_keys: ApiKeyStore
    namespaces: NamespaceStore
    buckets: BucketStore
    objects: ObjectStore
    writes: WriteStore
    claims: ClaimStore
    contents: ContentRegistry
    uploads: UploadStore
    tasks: TaskStore
    purge: PurgeStore
    indexes: IndexStore

    @classmethod
    def on(cls, database: AsyncDatabase[Document], limits: QueryLimits = DEFAULT_LIMITS) -> Stores:
        """The MongoDB adapters; `limits` bound every list, stats and aggregation query."""
        organizations, api_keys = MongoOrganizations(database), MongoApiKeys(database)
        namespaces, buckets = MongoNamespaces(database, limits), MongoBuckets(database, limits)
        objects, contents = MongoObjects(database, limits), MongoContents(database)
        uploads, tasks = MongoUploads(database, limits), MongoTasks(database, limits)
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


@dataclass(frozen=True)
class _Parts:
    """What every builder below reads."""

    stores: Stores
    settings: Settings
    storage: BlobStorage
    fetcher: Fetcher
    clock: Clock


@dataclass(frozen=True)
class Accounts:
    """Who may call (organizations, keys) and where (namespaces): what `bucketd keys` needs."""

    api_keys: ApiKeyService
    namespaces: NamespaceService


def build_accounts(stores: Stores, settings: Settings, clock: Clock = now_ms) -> Accounts:
    api_keys = ApiKeyService(
        organizations=stores.organizations,
        api_keys=stores.api_keys,
        cache=KeyCache(settings.key_cache_seconds),
        clock=clock,
    )
    namespaces = NamespaceService(
        namespaces=stores.namespaces,
        buckets=stores.buckets,
        objects=stores.objects,
        indexes=stores.indexes,
        cache=TtlCache(settings.namespace_cache_seconds),
        clock=clock,
    )
    return Accounts(api_keys, namespaces)


@dataclass(frozen=True)
class _Ingest:
    """The pieces every way into bucketd writes through."""

    contents: Contents
    drafts: Drafts
    sources: BlobSources
    objects: ObjectService


def _ingest(parts: _Parts, buckets: BucketService) -> _Ingest:
    stores, settings, clock = parts.stores, parts.settings, parts.clock
    contents = Contents(
        registry=stores.contents,
        storage=parts.storage,
        clock=clock,
        cleanup_seconds=settings.cleanup_seconds,
    )
    drafts = Drafts(
        objects=stores.objects,
        buckets=stores.buckets,
        writes=stores.writes,
        claims=ObjectClaims(stores.claims, stores.objects),
        registry=stores.contents,
        storage=parts.storage,
        lease=timedelta(seconds=settings.write_lease_seconds),
        clock=clock,
        cleanup_seconds=settings.cleanup_seconds,
    )
    sources = BlobSources(
        contents=contents,
        registry=stores.contents,
        fetcher=parts.fetcher,
        uploads=stores.uploads,
        objects=stores.objects,
        writes=stores.writes,
    )
    return _Ingest(contents, drafts, sources, _objects(parts, buckets, drafts, sources))


def _objects(
    parts: _Parts, buckets: BucketService, drafts: Drafts, sources: BlobSources
) -> ObjectService:
    settings = parts.settings
    limits = Limits(
        max_inline_bytes=settings.max_inline_bytes,
        max_blobs=settings.max_blobs_per_object,
        max_metadata_bytes=settings.max_metadata_bytes,
        s3_source_buckets=frozenset(settings.s3_source_buckets) - {settings.s3_bucket},
    )
    return ObjectService(
        objects=parts.stores.objects,
        buckets=buckets,
        drafts=drafts,
        sources=sources,
        limits=limits,
        clock=parts.clock,
    )


def _streams(parts: _Parts, ingest: _Ingest, buckets: BucketService) -> StreamUploads:
    settings = parts.settings
    return StreamUploads(
        object_limits=ingest.objects.limits,
        buckets=buckets,
        drafts=ingest.drafts,
        contents=ingest.contents,
        sources=ingest.sources,
        writes=parts.stores.writes,
        limits=StreamLimits(
            max_blob_bytes=settings.max_stream_blob_bytes,
            max_chunk_bytes=settings.max_stream_chunk_bytes,
        ),
        session_ttl=timedelta(seconds=settings.stream_session_seconds),
        clock=parts.clock,
    )


def _confirmations(
    parts: _Parts, ingest: _Ingest, buckets: BucketService, tasks: Tasks
) -> UploadConfirmations:
    return UploadConfirmations(
        uploads=parts.stores.uploads,
        storage=parts.storage,
        contents=ingest.contents,
        buckets=buckets,
        namespaces=parts.stores.namespaces,
        objects=ingest.objects,
        tasks=tasks,
        limits=_upload_limits(parts.settings),
        clock=parts.clock,
    )


def _tasks(parts: _Parts) -> Tasks:
    return Tasks(
        store=parts.stores.tasks,
        uploads=parts.stores.uploads,
        lease=timedelta(seconds=parts.settings.task_lease_seconds),
        clock=parts.clock,
    )


def _handle_tasks(parts: _Parts, tasks: Tasks, confirmations: UploadConfirmations) -> None:
    """Which work each task type runs."""
    stores = parts.stores
    purge = Purge(
        store=stores.purge, registry=stores.contents, storage=parts.storage, clock=parts.clock
    )
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


def _deletions(
    parts: _Parts, buckets: BucketService, namespaces: NamespaceService, tasks: Tasks
) -> Deletions:
    stores = parts.stores
    return Deletions(
        objects=stores.objects,
        claims=stores.claims,
        registry=stores.contents,
        buckets=buckets,
        namespaces=namespaces,
        tasks=tasks,
        clock=parts.clock,
    )


def _uploads(parts: _Parts, buckets: BucketService) -> UploadService:
    return UploadService(
        uploads=parts.stores.uploads,
        storage=parts.storage,
        registry=parts.stores.contents,
        buckets=buckets,
        limits=_upload_limits(parts.settings),
        clock=parts.clock,
    )


def _janitor(
    parts: _Parts, drafts: Drafts, confirmations: UploadConfirmations, tasks: Tasks
) -> Janitor:
    settings = parts.settings
    return Janitor(
        writes=parts.stores.writes,
        drafts=drafts,
        registry=parts.stores.contents,
        storage=parts.storage,
        confirmations=confirmations,
        tasks=tasks,
        lease=timedelta(seconds=settings.write_lease_seconds),
        grace=timedelta(seconds=settings.blob_grace_seconds),
        clock=parts.clock,
        multipart_age=timedelta(seconds=settings.multipart_max_age_seconds),
    )


def _bucket_service(parts: _Parts) -> BucketService:
    return BucketService(
        buckets=parts.stores.buckets,
        objects=parts.stores.objects,
        clock=parts.clock,
        max_metadata_bytes=parts.settings.max_metadata_bytes,
        cache=TtlCache(parts.settings.namespace_cache_seconds),
    )


def _upload_slots(settings: Settings) -> UploadSlots:
    return UploadSlots(
        cap=settings.upload_cap,
        org_fraction=settings.max_uploads_org_fraction,
        part_bytes=PART_BYTES,
        retry_after_seconds=settings.uploads_retry_after_seconds,
    )


def _rate_limits(settings: Settings) -> RateLimits | None:
    """Per API key, when BUCKETD_RATE_LIMIT_PER_SECOND sets one (none by default)."""
    if not settings.rate_limit_per_second:
        return None
    return RateLimits(per_second=settings.rate_limit_per_second, burst=settings.rate_limit_burst)


def build_services(
    stores: Stores,
    settings: Settings,
    *,
    storage: BlobStorage,
    fetcher: Fetcher,
    clock: Clock = now_ms,
) -> Services:
    """Every use case, wired to the stores, the blob storage, the URL fetcher and a clock."""
    parts = _Parts(stores, settings, storage, fetcher, clock)
    buckets = _bucket_service(parts)
    ingest = _ingest(parts, buckets)
    tasks = _tasks(parts)
    confirmations = _confirmations(parts, ingest, buckets, tasks)
    _handle_tasks(parts, tasks, confirmations)
    accounts = build_accounts(stores, settings, clock)
    return Services(
        api_keys=accounts.api_keys,
        namespaces=accounts.namespaces,
        buckets=buckets,
        objects=ingest.objects,
        object_reads=ObjectReads(objects=stores.objects, buckets=buckets, storage=storage),
        deletions=_deletions(parts, buckets, accounts.namespaces, tasks),
        uploads=_uploads(parts, buckets),
        confirmations=confirmations,
        streams=_streams(parts, ingest, buckets),
        tasks=tasks,
        janitor=_janitor(parts, ingest.drafts, confirmations, tasks),
        upload_slots=_upload_slots(settings),
        rate_limits=_rate_limits(settings),
    )
