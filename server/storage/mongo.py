"""MongoDB connection: PyMongo's native async client (Motor's successor)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from bucketd.server.errors import MongoUnavailable

Document = dict[str, Any]


@contextlib.asynccontextmanager
async def open_database(
    uri: str, name: str, *, timeout_seconds: float = 30.0
) -> AsyncIterator[AsyncDatabase[Document]]:
    """Yield the database `name` of the server at `uri`; the client closes on exit. An operation
    that gets no answer in `timeout_seconds` fails (StorageUnavailable), never hangs."""
    timeout_ms = int(timeout_seconds * 1000)
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=min(5000, timeout_ms),
        socketTimeoutMS=timeout_ms,
        connectTimeoutMS=min(10000, timeout_ms),
        # Waiting for a connection is bounded too (and a 503, never the caller's 4xx).
        waitQueueTimeoutMS=timeout_ms,
        tz_aware=True,
    )
    try:
        yield client[name]
    finally:
        await client.close()


async def ping(database: AsyncDatabase[Document]) -> None:
    """Raise StorageUnavailable unless the server answers."""
    try:
        await database.command("ping")
    except PyMongoError as error:
        raise MongoUnavailable(f"MongoDB does not answer: {error}") from error
