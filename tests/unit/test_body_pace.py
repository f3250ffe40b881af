"""BodyPace: a body is cut when nothing arrives for the idle time, or when past its grace it
averages less than the minimum rate, even while nothing arrives."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from bucketd.gateway.pace import BodyPace, BodyTooSlow
from bucketd.gateway.settings import GatewaySettings

SETTINGS = dataclasses.replace(
    GatewaySettings(),
    http_body_idle_seconds=5.0,
    http_body_min_bytes_per_second=1000.0,
    http_body_grace_seconds=0.2,
)


def _reads(*parts: bytes, pause: float = 0.0):  # type: ignore[no-untyped-def]
    pending = list(parts)

    async def read() -> bytes:
        await asyncio.sleep(pause)
        return pending.pop(0) if pending else b""

    return read


async def test_a_fast_body_is_read_whole() -> None:
    pace = BodyPace(SETTINGS)
    assert [data async for data in pace.chunks(_reads(b"ab", b"cd"))] == [b"ab", b"cd"]
    assert pace.received == 4


async def test_a_trickle_is_cut_after_its_grace_by_its_rate() -> None:
    pace = BodyPace(SETTINGS)
    started = time.monotonic()
    with pytest.raises(BodyTooSlow, match="slower than 1000 bytes/s") as cut:
        async for _ in pace.chunks(_reads(*[b"x"] * 1000, pause=0.05)):
            pass
    assert cut.value.status == 408
    assert 0.2 <= time.monotonic() - started < 2


async def test_a_stalled_body_is_cut_by_its_idle_time_without_a_rate() -> None:
    settings = dataclasses.replace(
        SETTINGS, http_body_min_bytes_per_second=0, http_body_idle_seconds=0.1
    )

    async def never() -> bytes:
        await asyncio.Event().wait()
        return b""

    with pytest.raises(BodyTooSlow, match="stopped arriving"):
        await BodyPace(settings).read(never)
