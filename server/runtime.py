"""What a bucketd process opens: MongoDB, S3 (and its presigning client) and the URL fetcher,
each entered into the exit stack of the process's owner (bucketd/process.py; `bucketd keys`
opens MongoDB alone), with the use cases composed over them by server/wiring.py."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.services.bundle import Services
from bucketd.server.settings import Settings
from bucketd.server.storage.blobs import S3BlobStorage
from bucketd.server.storage.fetch import Allowlist, UrlFetcher
from bucketd.server.storage.mongo import Document, MongoLimits, open_database, ping
from bucketd.server.storage.queries import QueryLimits
from bucketd.server.storage.s3 import S3Client, open_s3
from bucketd.server.wiring import Accounts, Stores, build_accounts, build_services


@dataclass(frozen=True)
class Records:
    """MongoDB, and one adapter per storage port over it."""

    database: AsyncDatabase[Document]
    stores: Stores


@dataclass(frozen=True)
class Runtime:
    """The clients a server holds open, and the use cases over them."""

    records: Records
    s3: S3Client
    services: Services


async def open_records(settings: Settings, stack: contextlib.AsyncExitStack) -> Records:
    """MongoDB (closed when `stack` unwinds) and its adapters."""
    if not settings.mongodb_uri:
        raise ValueError("MONGODB_URI is required: the MongoDB that bucketd serves from")
    database = await stack.enter_async_context(
        open_database(
            settings.mongodb_uri,
            settings.mongodb_database,
            limits=MongoLimits(
                timeout_seconds=settings.mongodb_timeout_seconds,
                server_selection_seconds=settings.mongodb_server_selection_seconds,
                connect_seconds=settings.mongodb_connect_timeout_seconds,
                max_pool_size=settings.mongodb_max_pool_size,
            ),
        )
    )
    limits = QueryLimits(seconds=settings.query_timeout_seconds)
    return Records(database, Stores.on(database, limits))


async def open_accounts(settings: Settings, stack: contextlib.AsyncExitStack) -> Accounts:
    """Organizations, keys and namespaces, over MongoDB alone (`bucketd keys`): it answers
    and has the indexes bucketd relies on, or this raises StorageUnavailable."""
    records = await open_records(settings, stack)
    await ping(records.database)
    await records.stores.ensure_indexes()
    return build_accounts(records.stores, settings)


async def open_runtime(settings: Settings, stack: contextlib.AsyncExitStack) -> Runtime:
    """MongoDB, S3 (and the presigning client), the URL fetcher, and the use cases over them;
    closed when `stack` unwinds."""
    records = await open_records(settings, stack)
    s3 = await stack.enter_async_context(open_s3(settings))
    presigner = s3
    if settings.presign_endpoint_url != settings.s3_endpoint_url:
        presigner = await stack.enter_async_context(
            open_s3(settings, endpoint_url=settings.presign_endpoint_url)
        )
    fetcher = await stack.enter_async_context(
        UrlFetcher(
            allowlist=Allowlist.parse(settings.fetch_allowlist),
            max_bytes=settings.max_fetch_bytes,
            connect_timeout=settings.fetch_connect_timeout_seconds,
            read_timeout=settings.fetch_read_timeout_seconds,
            total_timeout=settings.fetch_timeout_seconds,
        )
    )
    storage = S3BlobStorage(
        s3, settings.s3_bucket, presigner=presigner, part_seconds=settings.s3_part_timeout_seconds
    )
    services = build_services(records.stores, settings, storage=storage, fetcher=fetcher)
    return Runtime(records, s3, services)
