"""Issue 39, past one machine: bucketd's collections can be sharded on the keys declared in
server/storage/indexes.py (and shown in docs/operating.md). MongoDB keeps a unique index on a
sharded collection only when it starts with the shard key, and a query reaches one shard only when
it carries the key: both are checked here on the real indexes and the real commands."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from bucketd.server.settings import Settings
from bucketd.server.storage.indexes import SHARD_KEYS
from bucketd.server.wiring import Stores
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import call, create, make_bucket

# The hot paths' queries that do not carry the shard key (each would go to every shard on a
# cluster): none. A new one fails the test.
UNTARGETED: set[tuple[str, tuple[str, ...]]] = set()
DOCS = pathlib.Path(__file__).parents[2] / "docs" / "operating.md"


class _Recorder(monitoring.CommandListener):
    """Every command any client of this process sends while `commands` is a list."""

    commands: list[dict[str, Any]] | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.commands is not None:
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


RECORDER = _Recorder()
monitoring.register(RECORDER)  # clients made from here on report to it (it records on demand)


@pytest.fixture
def recorded() -> Iterator[list[dict[str, Any]]]:
    RECORDER.commands = []
    try:
        yield RECORDER.commands
    finally:
        RECORDER.commands = None


def test_the_docs_show_the_declared_shard_keys() -> None:
    text = DOCS.read_text()
    for name, key in SHARD_KEYS.items():
        shown = ", ".join(f"`{field}`" for field in key.fields) if key.fields else "unsharded"
        assert f"| `{name}` | {shown} | {key.why} |" in text, name


async def test_every_unique_index_starts_with_its_collections_shard_key(
    settings: Settings,
) -> None:
    assert settings.mongodb_uri
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    try:
        database = mongo[settings.mongodb_database]
        await Stores.on(database).indexes.ensure()
        names = set(await database.list_collection_names())
        assert names <= SHARD_KEYS.keys(), names - SHARD_KEYS.keys()
        unique = 0
        for name in names:
            fields = SHARD_KEYS[name].fields
            async for index in await database[name].list_indexes():
                if not index.get("unique") or index["name"] == "_id_" or not fields:
                    continue
                unique += 1
                assert tuple(index["key"])[: len(fields)] == fields, (name, index)
        assert unique >= 3  # buckets, namespaces, contents at least: the test reads them
    finally:
        await mongo.close()


def _carries(query: Any, field: str) -> bool:
    """Whether `query` pins `field` (directly, or in one of its top-level $and parts)."""
    if not isinstance(query, dict):
        return False
    return field in query or any(_carries(part, field) for part in query.get("$and", []))


def _queries(command: dict[str, Any]) -> tuple[str, list[Any]]:
    """The collection a command reads or writes, and the query of each of its statements."""
    for verb, queries in (
        ("find", lambda c: [c.get("filter", {})]),
        ("aggregate", lambda c: [(c["pipeline"][:1] or [{}])[0].get("$match", {})]),
        ("update", lambda c: [u["q"] for u in c["updates"]]),
        ("delete", lambda c: [d["q"] for d in c["deletes"]]),
        ("findAndModify", lambda c: [c.get("query", {})]),
        ("insert", lambda c: c["documents"]),
        ("distinct", lambda c: [c.get("query", {})]),
    ):
        if verb in command and isinstance(command[verb], str):
            return command[verb], queries(command)
    return "", []


async def test_create_get_list_and_delete_query_by_the_shard_key(
    recorded: list[dict[str, Any]], service: Service, acme: Tenant
) -> None:
    await make_bucket(service, acme)
    recorded.clear()
    # with an idempotency key: the object holds a claim, released by its id when it goes
    body = {"title": "t", "key_prefix": "/k", "idempotency_key": "order-1"}
    status, made = await create(service, acme, body)
    assert status == 200, made
    path = f"/v1/buckets/things/objects/{made['object_id']}"
    assert (await call(service, "GET", path, acme))[0] == 200
    assert (await call(service, "POST", "/v1/buckets/things/objects/list", acme, {}))[0] == 200
    assert (await call(service, "GET", "/v1/buckets", acme))[0] == 200
    assert (await call(service, "DELETE", path, acme))[0] in {200, 204}
    seen, untargeted = set(), set()
    for command in recorded:
        collection, queries = _queries(command)
        fields = SHARD_KEYS.get(collection)
        if fields is None or not fields.fields:
            continue
        seen.add(collection)
        for query in queries:
            if not _carries(query, fields.fields[0]):
                untargeted.add((collection, tuple(sorted(query))))
    assert {"objects", "buckets", "claims"} <= seen, seen
    assert untargeted <= UNTARGETED, untargeted - UNTARGETED
    status, again = await create(service, acme, body)  # the key was released with the object
    assert status == 200 and again["object_id"] != made["object_id"], again
