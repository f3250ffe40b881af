"""Upload slots (a cap, a fair share per organization) and the per-key token bucket."""

from __future__ import annotations

import pytest

from bucketd.server.errors import RateLimited, UploadsBusy
from bucketd.server.services.admission import (
    BASELINE_BYTES,
    UploadSlots,
    cap_from_budget,
    per_upload_bytes,
)
from bucketd.server.services.rate_limits import RateLimits
from bucketd.server.settings import Settings

MIB = 1024 * 1024


def _slots(cap: int, fraction: float = 1.0) -> UploadSlots:
    return UploadSlots(cap=cap, org_fraction=fraction, part_bytes=16 * MIB, retry_after_seconds=2)


def test_the_cap_comes_from_the_memory_budget() -> None:
    assert per_upload_bytes(16 * MIB) == 36 * MIB
    assert cap_from_budget(1024 * MIB, 16 * MIB) == (1024 * MIB - BASELINE_BYTES) // (36 * MIB)
    assert cap_from_budget(64 * MIB, 16 * MIB) == 1  # a tiny budget still admits one
    assert Settings(memory_budget_bytes=1024 * MIB).upload_cap == 21
    assert Settings(memory_budget_bytes=1024 * MIB, max_uploads=3).upload_cap == 3


def test_past_the_cap_an_upload_is_refused_with_a_retry_delay() -> None:
    slots = _slots(2)
    with slots.slot("a"), slots.slot("b"):
        assert slots.held.uploads == 2
        assert slots.held.bytes_reserved == 2 * per_upload_bytes(16 * MIB)
        with pytest.raises(UploadsBusy) as busy, slots.slot("c"):
            pass
        assert busy.value.retry_after_seconds == 2
    assert slots.held.uploads == 0
    with slots.slot("c"):  # a finished upload frees its slot
        pass


def test_one_organization_holds_at_most_its_share() -> None:
    slots = _slots(4, fraction=0.5)
    assert slots.org_cap == 2
    with slots.slot("a"), slots.slot("a"):
        with pytest.raises(UploadsBusy, match="organization"), slots.slot("a"):
            pass
        with slots.slot("b"), slots.slot("b"):
            assert slots.held.uploads == 4
    assert _slots(1, fraction=0.01).org_cap == 1


def test_a_failed_upload_frees_its_slot() -> None:
    slots = _slots(1)
    with pytest.raises(RuntimeError), slots.slot("a"):
        raise RuntimeError("the upload failed")
    assert slots.held.uploads == 0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limits = RateLimits(per_second=2, burst=3, clock=clock)
    for _ in range(3):
        limits.take("k")
    with pytest.raises(RateLimited) as limited:
        limits.take("k")
    assert limited.value.retry_after_seconds == pytest.approx(0.5)
    limits.take("other")  # each key has its own bucket
    clock.now = 0.5
    limits.take("k")
    with pytest.raises(RateLimited):
        limits.take("k")
    clock.now = 100.0  # long idle: full again, never more than the burst
    for _ in range(3):
        limits.take("k")
    with pytest.raises(RateLimited):
        limits.take("k")
