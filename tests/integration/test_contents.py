"""The content registry against the real MongoDB wire server: holds, races, releases, deletion."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.contents import Content
from bucketd.server.settings import Settings
from bucketd.server.storage.contents import MongoContents
from bucketd.server.storage.mongo import Document, open_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _content(content_id: str, sha256: str = "a" * 64) -> Content:
    return Content(
        content_id=content_id,
        namespace_id="ns_1",
        sha256=sha256,
        storage_key=f"ns_1/contents/{content_id}",
        size_bytes=3,
        mime_type="text/plain",
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[AsyncDatabase[Document]]:
    assert settings.mongodb_uri
    async with open_database(settings.mongodb_uri, settings.mongodb_database) as database:
        yield database


@pytest.fixture
async def registry(database: AsyncDatabase[Document]) -> MongoContents:
    contents = MongoContents(database)
    await contents.ensure_indexes()
    return contents


async def test_racing_writers_of_the_same_bytes_end_up_on_one_content(
    registry: MongoContents,
) -> None:
    winners = await asyncio.gather(
        *(
            registry.register(_content(f"cnt_{i}"), f"obj_{i}/b", canonical=True, now=NOW)
            for i in range(6)
        )
    )
    assert len({w.content_id for w in winners}) == 1
    held = await registry.hold("ns_1", "a" * 64, "obj_x/b")
    assert held is not None and held.content_id == winners[0].content_id


async def test_a_forced_copy_is_registered_apart_and_never_a_dedup_target(
    registry: MongoContents,
) -> None:
    first = await registry.register(_content("cnt_1"), "o1/b", canonical=True, now=NOW)
    forced = await registry.register(_content("cnt_2"), "o2/b", canonical=False, now=NOW)
    assert forced.content_id == "cnt_2"
    held = await registry.hold("ns_1", "a" * 64, "o3/b")
    assert held is not None and held.content_id == first.content_id


async def test_release_then_grace_then_deletion_and_a_hold_in_between_keeps_it(
    registry: MongoContents,
) -> None:
    await registry.register(_content("cnt_1"), "o1/b", canonical=True, now=NOW)
    await registry.release("ns_1", ["o1/b", "o1/b"], now=NOW)  # twice: idempotent
    assert await registry.collectable(released_before=NOW - timedelta(seconds=1)) == []
    assert await registry.collectable(released_before=NOW) == ["cnt_1"]
    assert await registry.hold("ns_1", "a" * 64, "o2/b") is not None  # reused in the grace
    assert await registry.start_deleting("cnt_1", released_before=NOW) is None
    await registry.release("ns_1", ["o2/b"], now=NOW + timedelta(seconds=5))
    taken = await registry.start_deleting("cnt_1", released_before=NOW + timedelta(seconds=5))
    assert taken is not None
    assert await registry.hold("ns_1", "a" * 64, "o3/b") is None  # being deleted: not found
    fresh = await registry.register(_content("cnt_2"), "o3/b", canonical=True, now=NOW)
    assert fresh.content_id == "cnt_2"  # the SHA-256 was let go for new bytes
    await registry.forget("cnt_1")
    assert await registry.find("cnt_1") is None


async def test_a_content_held_too_often_is_retired_for_new_bytes(
    database: AsyncDatabase[Document],
) -> None:
    registry = MongoContents(database, max_holders=3)
    await registry.ensure_indexes()
    await registry.register(_content("cnt_1"), "o1/b", canonical=True, now=NOW)
    assert await registry.hold("ns_1", "a" * 64, "o2/b") is not None
    assert await registry.hold("ns_1", "a" * 64, "o3/b") is not None  # 3 holders: full
    assert await registry.hold("ns_1", "a" * 64, "o4/b") is None
    fresh = await registry.register(_content("cnt_2"), "o4/b", canonical=True, now=NOW)
    assert fresh.content_id == "cnt_2"
    held = await registry.hold("ns_1", "a" * 64, "o5/b")
    assert held is not None and held.content_id == "cnt_2"
    assert len(await registry.holders("cnt_1")) == 3  # the retired one keeps its holders
