"""Stand-in mode's bootstrap (services/bootstrap.py) and the TTL cache (services/cache.py) over
the fakes: the dev key works at once, survives a restart, and a malformed one is refused."""

from __future__ import annotations

import pytest

from bucketd.server.domain.keys import generate_key
from bucketd.server.domain.listing import ListQuery
from bucketd.server.errors import InvalidArgument
from bucketd.server.services.bootstrap import (
    DEV_NAMESPACE,
    DEV_ORGANIZATION,
    bootstrap_dev,
    check_dev_key,
)
from bucketd.server.services.cache import TtlCache
from tests.unit.world import World, world


async def _bootstrap(w: World, plaintext: str | None) -> str:
    return await bootstrap_dev(w.services.api_keys, w.services.namespaces, plaintext)


async def _namespaces_of(w: World, key: str) -> list[str]:
    principal = await w.services.api_keys.authenticate(f"Bearer {key}")
    page = await w.services.namespaces.page(principal, ListQuery())
    return [view.namespace.namespace_name for view in page.results]


async def test_bootstrap_issues_a_test_key_of_the_dev_organization_with_its_namespace() -> None:
    w = world()
    key = await _bootstrap(w, None)
    assert key.startswith("sk_test_")
    assert await _namespaces_of(w, key) == [DEV_NAMESPACE]
    [(record, organization)] = await w.services.api_keys.list_keys(DEV_ORGANIZATION)
    assert organization == DEV_ORGANIZATION and key.startswith(record.prefix)


async def test_a_given_dev_key_is_imported_once_and_kept_across_restarts() -> None:
    w = world()
    given = generate_key(test=True)
    assert await _bootstrap(w, given) == given
    restarted = world(beside=w)  # another process on the same database: the same key
    assert await _bootstrap(restarted, given) == given
    assert len(await w.services.api_keys.list_keys(DEV_ORGANIZATION)) == 1
    assert await _namespaces_of(restarted, given) == [DEV_NAMESPACE]


async def test_without_a_given_key_each_run_issues_another_that_shares_the_namespace() -> None:
    w = world()
    first = await _bootstrap(w, None)
    second = await _bootstrap(world(beside=w), None)
    assert first != second
    assert await _namespaces_of(w, first) == await _namespaces_of(w, second) == [DEV_NAMESPACE]


@pytest.mark.parametrize(
    "bad", [generate_key(test=False), "sk_test_short", "sk_test_" + "!" * 32, "not a key"]
)
async def test_a_malformed_or_live_dev_key_is_refused_before_anything_is_written(
    bad: str,
) -> None:
    w = world()
    with pytest.raises(InvalidArgument, match="BUCKETD_DEV_API_KEY"):
        check_dev_key(bad)
    with pytest.raises(InvalidArgument, match="BUCKETD_DEV_API_KEY"):
        await _bootstrap(w, bad)
    assert await w.services.api_keys.list_keys(None) == []
    check_dev_key(None)  # unset: bootstrap issues one


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_a_value_for_its_ttl_only() -> None:
    ticks = Ticks()
    cache: TtlCache[str, int] = TtlCache(10, now=ticks)
    cache.put("a", 1)
    ticks.now = 9.9
    assert cache.get("a") == 1
    ticks.now = 10.0
    assert cache.get("a") is None
    assert cache.get("never") is None


def test_a_zero_ttl_turns_caching_off() -> None:
    cache: TtlCache[str, int] = TtlCache(0, now=Ticks())
    cache.put("a", 1)
    assert cache.get("a") is None


def test_a_full_cache_starts_over_rather_than_grow() -> None:
    cache: TtlCache[int, int] = TtlCache(10, max_entries=3, now=Ticks())
    for key in range(3):
        cache.put(key, key)
    cache.put(3, 3)
    assert [cache.get(key) for key in range(4)] == [None, None, None, 3]


def test_drop_where_forgets_only_the_matching_values() -> None:
    cache: TtlCache[str, int] = TtlCache(10, now=Ticks())
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    cache.drop_where(lambda value: value % 2 == 1)
    assert [cache.get(key) for key in "abc"] == [None, 2, None]
