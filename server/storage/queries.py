"""The query model (domain/query.py) in MongoDB's words, and the one paged find of every list.

Only here do record fields become document paths: the record's id field is the document's
`_id`; every other path is stored under its own name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bson
import pymongo
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.command_cursor import AsyncCommandCursor
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.errors import ExecutionTimeout

from bucketd.server.domain.deadlines import past_deadline
from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.query import AllOf, AnyOf, Filter, NoneOf, Op, Where
from bucketd.server.errors import QueryTooExpensive
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.query_clock import timed_from_checkout

_OPERATORS = {
    Op.NE: "$ne",
    Op.GT: "$gt",
    Op.GTE: "$gte",
    Op.LT: "$lt",
    Op.LTE: "$lte",
    Op.IN: "$in",
    Op.NIN: "$nin",
    Op.EXISTS: "$exists",
}
_LOGICAL = {AllOf: "$and", AnyOf: "$or", NoneOf: "$nor"}
# MongoDB's MaxTimeMSExpired: the server stopped the operation at its maxTimeMS.
MAX_TIME_EXPIRED = 50


@dataclass(frozen=True)
class QueryLimits:
    """What one list, stats or aggregation query may take: `seconds` of work in MongoDB (sent
    as maxTimeMS; BUCKETD_QUERY_TIMEOUT_SECONDS), and `max_bytes` of answer (a page, the groups)."""

    seconds: float = 10.0
    max_bytes: int = 16 * 1024 * 1024

    @property
    def max_time_ms(self) -> int:
        """The server-side limit each operation carries: its own work only, never the time it
        waited for a connection or behind other callers' queries."""
        return max(1, int(self.seconds * 1000))


DEFAULT_LIMITS = QueryLimits()


@contextlib.contextmanager
def bounded(limits: QueryLimits) -> Iterator[None]:
    """Operations inside carry limits.max_time_ms; MongoDB's own expiry of it (MaxTimeMSExpired,
    code 50) is the query's cost and the caller's to narrow: QueryTooExpensive, naming the limit.
    Any other failure, a client-side timeout too (waiting for a connection, for an answer), is
    left to translated(): the store is unavailable (503, retryable), not the caller at fault.
    PyMongo's client-side timeout sends what is left of it as maxTimeMS, so the query's limit
    is set as one (nested in the call's deadline), started again when the query gets its
    connection (QueryClock: waiting is never the query's cost); an expiry once the deadline has
    passed is the deadline's, not the query's."""
    try:
        with timed_from_checkout(limits.seconds), pymongo.timeout(limits.seconds):
            yield
    except ExecutionTimeout as error:
        if error.code != MAX_TIME_EXPIRED or past_deadline():
            raise
        raise QueryTooExpensive(
            f"the query ran longer than {limits.seconds:g} s (BUCKETD_QUERY_TIMEOUT_SECONDS): "
            "narrow its filters (a regex over many objects costs the most)",
            details={"limit_seconds": f"{limits.seconds:g}"},
        ) from None


async def within_size(
    cursor: AsyncCursor[Document] | AsyncCommandCursor[Document], limits: QueryLimits
) -> list[Document]:
    """The cursor's documents, refused (QueryTooExpensive) once they pass `max_bytes`."""
    found, size = [], 0
    async for doc in cursor:
        size += len(bson.encode(doc))
        if size > limits.max_bytes:
            raise QueryTooExpensive(
                f"the answer is larger than {limits.max_bytes / (1024 * 1024):g} MiB: ask for "
                "fewer items (limit) or fewer fields (select)",
                details={"limit_bytes": str(limits.max_bytes)},
            )
        found.append(doc)
    return found


def _path(field: str, id_field: str) -> str:
    return "_id" if field == id_field else field


def _condition(where: Where) -> Any:
    if where.op is Op.EQ:
        return where.value
    if where.op is Op.MATCHES:
        options = {} if where.case_sensitive else {"$options": "i"}
        return {"$regex": where.value, **options}
    return {_OPERATORS[where.op]: where.value}


def mongo_filter(query: Filter, id_field: str) -> Document:
    """The query document of `query` ({} matches everything)."""
    if isinstance(query, Where):
        return {_path(query.field, id_field): _condition(query)}
    if not query.parts:
        return {} if isinstance(query, AllOf) else {"_id": {"$exists": isinstance(query, NoneOf)}}
    return {_LOGICAL[type(query)]: [mongo_filter(part, id_field) for part in query.parts]}


def scoped(scope: Document, query: Filter, id_field: str) -> Document:
    """`query` within `scope` (the namespace, the bucket: what every query carries)."""
    return {"$and": [scope, mongo_filter(query, id_field)]}


async def paged(
    collection: AsyncCollection[Document],
    scope: Document,
    query: Filter,
    *,
    sort: SortRequest,
    page: PageRequest,
    id_field: str,
    limits: QueryLimits,
    count: bool = True,
) -> tuple[list[Document], int | None]:
    """One page of the documents `query` matches in `scope`, in `sort` order (ties by id), and
    how many match in all when `count`; within `limits`."""
    where = scoped(scope, query, id_field)
    direction = DESCENDING if sort.descending else ASCENDING
    order = [(_path(sort.field, id_field), direction), ("_id", direction)]
    ms = limits.max_time_ms
    with translated(), bounded(limits):
        total = await collection.count_documents(where, maxTimeMS=ms) if count else None
        cursor = collection.find(where, max_time_ms=ms).sort(order).skip(page.offset)
        cursor = cursor.limit(page.limit)
        return await within_size(cursor.batch_size(100), limits), total
