"""The query model (domain/query.py) in MongoDB's words, and the one paged find of every list.

Only here do record fields become document paths: the record's id field is the document's
`_id`; every other path is stored under its own name.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from bucketd.server.domain.listing import PageRequest, SortRequest
from bucketd.server.domain.query import AllOf, AnyOf, Filter, NoneOf, Op, Where
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document

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
    count: bool = True,
) -> tuple[list[Document], int | None]:
    """One page of the documents `query` matches in `scope`, in `sort` order (ties by id), and
    how many match in all when `count`."""
    where = scoped(scope, query, id_field)
    direction = DESCENDING if sort.descending else ASCENDING
    order = [(_path(sort.field, id_field), direction), ("_id", direction)]
    with translated():
        total = await collection.count_documents(where) if count else None
        cursor = collection.find(where).sort(order).skip(page.offset).limit(page.limit)
        return await cursor.to_list(), total
