"""Namespaces: the isolation boundary. Every lookup is scoped to the caller's organization.

X-Namespace lookups are cached for BUCKETD_NAMESPACE_CACHE_SECONDS (they sit on every bucket,
object and upload call): a rename or a deletion made on another instance is seen within that time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bucketd.server.domain import names
from bucketd.server.domain.filters import list_filter
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.listing import ListQuery, PageRequest, SortRequest
from bucketd.server.domain.models import Namespace, NamespaceChanges, NamespaceCounts, Principal
from bucketd.server.errors import InvalidArgument, NamespaceRequired, NotFound
from bucketd.server.services.cache import TtlCache
from bucketd.server.services.ports import BucketStore, IndexStore, NamespaceStore, ObjectStore

Clock = Callable[[], datetime]

SORTABLE = {
    "namespace_name": "namespace_name",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
DEFAULT_SORT = SortRequest(field="created_at", descending=False)
LIST_LIMIT = (10, 1000)
MAX_STATS_BATCH = 100
FILTERABLE = {"namespace_id": "namespace_id", "description": "description", **SORTABLE}.get


def not_found(identifier: str) -> NotFound:
    """The same answer whether the namespace is missing or belongs to someone else."""
    return NotFound(
        f"Namespace '{identifier}' not found",
        details={"resource": "namespace", "id": identifier},
    )


@dataclass(frozen=True)
class NamespaceView:
    namespace: Namespace
    counts: NamespaceCounts


@dataclass(frozen=True)
class NamespacePage:
    results: list[NamespaceView]
    total: int
    page: PageRequest


class NamespaceService:
    def __init__(
        self,
        *,
        namespaces: NamespaceStore,
        buckets: BucketStore,
        objects: ObjectStore,
        indexes: IndexStore,
        cache: TtlCache[tuple[str, str], Namespace],
        clock: Clock,
    ) -> None:
        self._namespaces = namespaces
        self._buckets = buckets
        self._objects = objects
        self._indexes = indexes
        self._cache = cache
        self._clock = clock

    async def resolve(self, principal: Principal, header: str | None) -> Namespace:
        """The namespace named by the X-Namespace header (name or ns_ id), in the caller's org."""
        if not header or not header.strip():
            raise NamespaceRequired(
                "Missing X-Namespace header: send the namespace name or its ns_ id",
                details={"header": "X-Namespace"},
            )
        key = (principal.organization_id, header.strip())
        namespace = self._cache.get(key)
        if namespace is None:
            namespace = await self._namespaces.find(*key)
            if namespace is None:
                raise not_found(key[1])
            self._cache.put(key, namespace)
        return namespace

    async def create(
        self, principal: Principal, *, name: str, description: str | None
    ) -> NamespaceView:
        now = self._clock()
        namespace = Namespace(
            namespace_id=new_id("ns_"),
            organization_id=principal.organization_id,
            namespace_name=names.namespace_name(name),
            description=names.description(description),
            created_at=now,
            updated_at=now,
        )
        await self._namespaces.insert(namespace)
        return NamespaceView(namespace, NamespaceCounts())

    async def get(self, principal: Principal, identifier: str) -> NamespaceView:
        namespace = await self._find(principal, identifier)
        return (await self._with_counts([namespace]))[0]

    async def page(self, principal: Principal, request: ListQuery) -> NamespacePage:
        page = request.page(default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
        sort = request.sort(allowed=SORTABLE, default=DEFAULT_SORT)
        query = list_filter(request, FILTERABLE, ["namespace_name", "description", "namespace_id"])
        found, total = await self._namespaces.page(
            principal.organization_id, query=query, sort=sort, page=page
        )
        return NamespacePage(await self._with_counts(found), total, page)

    async def update(
        self, principal: Principal, identifier: str, *, name: str | None, description: str | None
    ) -> NamespaceView:
        namespace = await self._find(principal, identifier)
        changes = NamespaceChanges(
            namespace_name=None if name is None else names.namespace_name(name),
            description=None if description is None else names.description(description),
        )
        updated = await self._namespaces.update(
            principal.organization_id, namespace.namespace_id, changes, now=self._clock()
        )
        if updated is None:
            raise not_found(identifier)
        self._forget(namespace)
        return (await self._with_counts([updated]))[0]

    async def stats(self, principal: Principal, identifier: str) -> NamespaceView:
        return await self.get(principal, identifier)

    async def stats_batch(self, principal: Principal, ids: list[str]) -> list[NamespaceView]:
        """Up to 100 namespaces' counts; ids the caller cannot see are left out."""
        if not 1 <= len(ids) <= MAX_STATS_BATCH:
            raise InvalidArgument(
                f"namespace_ids: give 1 to {MAX_STATS_BATCH} ids, got {len(ids)}",
                details={"field": "namespace_ids"},
            )
        found = [await self._namespaces.find(principal.organization_id, i) for i in set(ids)]
        return await self._with_counts([namespace for namespace in found if namespace])

    async def ensure_indexes(self, principal: Principal, identifier: str) -> list[str]:
        """bucketd's indexes (they serve every namespace), once the caller may see this one."""
        await self._find(principal, identifier)
        return await self._indexes.ensure()

    async def remove(self, principal: Principal, namespace: Namespace) -> None:
        """The record only: services/deletions.py deletes what the namespace held."""
        if not await self._namespaces.delete(principal.organization_id, namespace.namespace_id):
            raise not_found(namespace.namespace_id)
        self._forget(namespace)

    async def find(self, principal: Principal, identifier: str) -> Namespace:
        return await self._find(principal, identifier)

    async def _find(self, principal: Principal, identifier: str) -> Namespace:
        namespace = await self._namespaces.find(principal.organization_id, identifier)
        if namespace is None:
            raise not_found(identifier)
        return namespace

    def _forget(self, namespace: Namespace) -> None:
        self._cache.drop_where(lambda cached: cached.namespace_id == namespace.namespace_id)

    async def _with_counts(self, found: list[Namespace]) -> list[NamespaceView]:
        ids = [n.namespace_id for n in found]
        buckets, objects = await self._buckets.counts(ids), await self._objects.counts(ids)
        return [
            NamespaceView(
                n,
                NamespaceCounts(
                    bucket_count=buckets.get(n.namespace_id, 0),
                    object_count=objects.get(n.namespace_id, 0),
                ),
            )
            for n in found
        ]
