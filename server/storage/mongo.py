"""MongoDB connection: PyMongo's native async client (Motor's successor)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from bucketd.server.errors import MongoUnavailable
from bucketd.server.storage.query_clock import QueryClock

Document = dict[str, Any]


@dataclass(frozen=True)
class MongoLimits:
    """What a stalled MongoDB may cost (BUCKETD_MONGODB_*): each operation of a call gets at
    most what is left of the call's deadline on top of these (storage/documents.py)."""

    timeout_seconds: float = 30.0  # an answer, and a free connection
    server_selection_seconds: float = 5.0
    connect_seconds: float = 10.0
    max_pool_size: int = 100


@contextlib.asynccontextmanager
async def open_database(
    uri: str, name: str, *, limits: MongoLimits | None = None
) -> AsyncIterator[AsyncDatabase[Document]]:
    """Yield the database `name` of the server at `uri`; the client closes on exit. An operation
    that gets no answer within the limits fails (StorageUnavailable), never hangs."""
    limits = limits or MongoLimits()
    timeout_ms = int(limits.timeout_seconds * 1000)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri,
        # Each operation's limit, waiting for a server and a connection included (a 503, never
        # the caller's 4xx); a call's deadline may cut it shorter (storage/documents.py).
        timeoutMS=timeout_ms,
        serverSelectionTimeoutMS=min(int(limits.server_selection_seconds * 1000), timeout_ms),
        connectTimeoutMS=min(int(limits.connect_seconds * 1000), timeout_ms),
        socketTimeoutMS=timeout_ms,  # what runs outside PyMongo's operation timeout
        waitQueueTimeoutMS=timeout_ms,
        maxPoolSize=limits.max_pool_size,
        event_listeners=[QueryClock()],  # a query's limit starts once it has its connection
        tz_aware=True,
    )
    try:
        yield client[name]
    finally:
        await client.close()


async def ping(database: AsyncDatabase[Document], *, timeout_seconds: float = 5.0) -> None:
    """Raise StorageUnavailable unless the server answers within `timeout_seconds`."""
    try:
        with pymongo.timeout(timeout_seconds):
            await database.command("ping")
    except PyMongoError as error:
        raise MongoUnavailable(f"MongoDB does not answer: {error}") from error
