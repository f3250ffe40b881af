"""Every use case, wired by the composition root (server/wiring.py) over in-memory fakes.

A unit test of a use case gets the same objects `bucketd serve` builds, with fakes for MongoDB,
S3 and URL fetching and a clock it moves itself: no I/O, no sleeping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bucketd.server.domain.models import Namespace, Principal
from bucketd.server.services.bundle import Services
from bucketd.server.settings import Settings
from bucketd.server.wiring import Stores, build_services
from tests.unit.fakes import (
    FakeApiKeys,
    FakeBuckets,
    FakeClock,
    FakeDatabase,
    FakeFetcher,
    FakeIndexes,
    FakeNamespaces,
    FakeObjects,
    FakeOrganizations,
    FakePurge,
    FakeRegistry,
    FakeStorage,
    FakeTasks,
    FakeUploads,
    Journal,
)


@dataclass
class World:
    services: Services
    db: FakeDatabase
    objects: FakeObjects
    registry: FakeRegistry
    storage: FakeStorage
    clock: FakeClock
    journal: Journal = field(default_factory=list)

    async def tenant(
        self, organization: str = "acme", namespace: str = "default"
    ) -> tuple[Principal, Namespace]:
        """An organization with a key (as `bucketd keys create` makes it) and a namespace."""
        issued = await self.services.api_keys.issue(organization, test=True)
        principal = await self.services.api_keys.authenticate(f"Bearer {issued.plaintext}")
        view = await self.services.namespaces.create(principal, name=namespace, description=None)
        return principal, view.namespace


def world(
    urls: dict[str, list[bytes]] | None = None, *, beside: World | None = None, **settings: Any
) -> World:
    """The use cases over fresh fakes, or over those of `beside` (a second instance on the same
    database, S3 and clock); `settings` override Settings' defaults."""
    if beside is None:
        journal: Journal = []
        db, clock = FakeDatabase(), FakeClock()
        registry, storage = FakeRegistry(journal), FakeStorage(journal)
        objects = FakeObjects(journal, db)
    else:
        journal, db, clock = beside.journal, beside.db, beside.clock
        registry, storage, objects = beside.registry, beside.storage, beside.objects
    stores = Stores(
        organizations=FakeOrganizations(db),
        api_keys=FakeApiKeys(db),
        namespaces=FakeNamespaces(db),
        buckets=FakeBuckets(db),
        objects=objects,
        writes=objects,
        claims=objects,
        contents=registry,
        uploads=FakeUploads(db),
        tasks=FakeTasks(db),
        purge=FakePurge(db, objects, registry),
        indexes=FakeIndexes(),
    )
    configured = dataclasses.replace(Settings(), **settings)
    services = build_services(
        stores, configured, storage=storage, fetcher=FakeFetcher(urls or {}), clock=clock
    )
    return World(services, db, objects, registry, storage, clock, journal)
