"""API key rules and the authentication use case, against in-memory fakes of the ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bucketd.server.domain import keys
from bucketd.server.errors import InvalidArgument, NotFound, Unauthenticated
from bucketd.server.services.api_keys import ApiKeyService, KeyCache
from tests.unit.fakes import FakeApiKeys, FakeDatabase, FakeOrganizations

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def _service(store: FakeApiKeys, *, ttl: float = 30, ticks: Clock | None = None) -> ApiKeyService:
    cache = KeyCache(ttl, now=ticks or Clock())
    return ApiKeyService(
        organizations=FakeOrganizations(FakeDatabase()),
        api_keys=store,
        cache=cache,
        clock=lambda: NOW,
    )


def test_generated_keys_are_well_formed_and_distinct() -> None:
    live, test = keys.generate_key(test=False), keys.generate_key(test=True)
    assert live.startswith("sk_live_") and test.startswith("sk_test_")
    assert keys.is_well_formed(live) and keys.is_well_formed(test)
    assert len({keys.generate_key(test=True) for _ in range(100)}) == 100
    assert keys.key_digest(live) != live and len(keys.key_digest(live)) == 64


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
    ],
)
def test_bearer_token(header: str, token: str | None) -> None:
    assert keys.bearer_token(header) == token


async def test_only_the_digest_is_stored() -> None:
    db = FakeDatabase()
    issued = await _service(FakeApiKeys(db)).issue("acme", test=False)
    (record,) = db.keys.values()
    assert issued.plaintext not in {record.digest, record.prefix, record.key_id}
    assert record.digest == keys.key_digest(issued.plaintext)
    assert issued.plaintext.startswith(record.prefix)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Missing API key"),
        ("Token sk_test_x", "Malformed API key"),
        ("Bearer sk_test_short", "Malformed API key"),
        ("Bearer sk_test_" + "A" * 32, "Invalid API key"),
    ],
)
async def test_authentication_failures(header: str | None, message: str) -> None:
    with pytest.raises(Unauthenticated, match=message):
        await _service(FakeApiKeys(FakeDatabase())).authenticate(header)


async def test_valid_key_is_cached_for_the_ttl_then_read_again() -> None:
    store, ticks = FakeApiKeys(FakeDatabase()), Clock()
    service = _service(store, ttl=30, ticks=ticks)
    issued = await service.issue("acme", test=True)
    principal = await service.authenticate(f"Bearer {issued.plaintext}")
    assert principal.organization_id == "org_acme"
    await service.authenticate(f"Bearer {issued.plaintext}")
    assert store.reads == 1
    await service.revoke(issued.record.key_id)
    await service.authenticate(f"Bearer {issued.plaintext}")  # still cached: within the TTL
    ticks.seconds = 30
    with pytest.raises(Unauthenticated):
        await service.authenticate(f"Bearer {issued.plaintext}")


async def test_expired_key_is_refused_even_when_cached() -> None:
    store = FakeApiKeys(FakeDatabase())
    service = _service(store)
    issued = await service.issue("acme", test=True, expires_in=timedelta(seconds=-1))
    with pytest.raises(Unauthenticated, match="Invalid API key"):
        await service.authenticate(f"Bearer {issued.plaintext}")


async def test_revoke_by_prefix_needs_a_unique_match() -> None:
    store = FakeApiKeys(FakeDatabase())
    service = _service(store)
    first = await service.issue("acme", test=True)
    assert (await service.revoke(first.record.prefix)).key_id == first.record.key_id
    with pytest.raises(NotFound):
        await service.revoke("sk_test_nope")
    twin = replace(first.record, key_id="key_twin", digest="other")
    await store.insert(twin)
    with pytest.raises(InvalidArgument, match="matches several keys"):
        await service.revoke(first.record.prefix)


async def test_imported_key_must_be_well_formed() -> None:
    with pytest.raises(InvalidArgument):
        await _service(FakeApiKeys(FakeDatabase())).issue(
            "acme", test=True, plaintext="sk_test_short"
        )
