"""In-memory fakes of every storage port, for unit tests of the use cases (no I/O).

`FakeStores` builds them all over one FakeDatabase, as server/wiring.py builds the real ones
over one MongoDB; tests/integration/test_queries.py holds their query semantics to MongoDB's.
"""

from __future__ import annotations

from tests.unit.fakes.objects import FakeObjects
from tests.unit.fakes.records import (
    FakeApiKeys,
    FakeBuckets,
    FakeDatabase,
    FakeIndexes,
    FakeNamespaces,
    FakeOrganizations,
    FakePurge,
    FakeTasks,
    FakeUploads,
)
from tests.unit.fakes.storage import FakeClock, FakeFetcher, FakeRegistry, FakeStorage, Journal

__all__ = [
    "FakeApiKeys",
    "FakeBuckets",
    "FakeClock",
    "FakeDatabase",
    "FakeFetcher",
    "FakeIndexes",
    "FakeNamespaces",
    "FakeObjects",
    "FakeOrganizations",
    "FakePurge",
    "FakeRegistry",
    "FakeStorage",
    "FakeTasks",
    "FakeUploads",
    "Journal",
]
