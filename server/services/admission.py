"""Admission instead of exhaustion: how many uploads a process holds at once, and how many of
them one organization may hold.

An upload in flight holds about two S3 parts in memory (the part it fills and the one being
sent), so the process's memory budget divided by that cost is the number of uploads it can hold
(BUCKETD_MAX_UPLOADS overrides it). Past the cap, or past an organization's fair share of it, a
new upload is refused at once with a retry delay (UploadsBusy: 503 + Retry-After,
RESOURCE_EXHAUSTED with RetryInfo), never queued: a queue would hold the caller's bytes too.
The slots are per process; each worker of `bucketd serve --workers` has its own.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bucketd.server.errors import UploadsBusy

MIB = 1024 * 1024
# What the process holds besides its uploads (the interpreter, the libraries, caches, the calls
# that are not uploads), kept out of the budget before dividing it.
BASELINE_BYTES = 256 * MIB


def per_upload_bytes(part_bytes: int) -> int:
    """What one upload holds at most: two parts, and a chunk of each gRPC message on the way."""
    return 2 * part_bytes + 4 * MIB


def cap_from_budget(budget_bytes: int, part_bytes: int) -> int:
    """The uploads a memory budget holds, at least one."""
    return max(1, (budget_bytes - BASELINE_BYTES) // per_upload_bytes(part_bytes))


@dataclass(frozen=True)
class Held:
    """What the slots hold now (for metrics and the log)."""

    uploads: int
    bytes_reserved: int


class UploadSlots:
    """A cap on uploads in flight, with a fair share per organization (pure bookkeeping: one
    event loop, no awaits between the check and the take)."""

    def __init__(
        self, *, cap: int, org_fraction: float, part_bytes: int, retry_after_seconds: float
    ) -> None:
        self.cap = cap
        self.org_cap = max(1, math.ceil(cap * org_fraction))
        self._cost = per_upload_bytes(part_bytes)
        self._retry_after = retry_after_seconds
        self._by_org: Counter[str] = Counter()
        self._held = 0

    @property
    def held(self) -> Held:
        return Held(self._held, self._held * self._cost)

    @contextmanager
    def slot(self, organization_id: str) -> Iterator[None]:
        """One upload's slot for the duration of the block, or UploadsBusy at once."""
        if self._held >= self.cap:
            raise UploadsBusy(
                f"this server holds its most uploads at once ({self.cap}, "
                "BUCKETD_MAX_UPLOADS): retry shortly",
                retry_after_seconds=self._retry_after,
            )
        if self._by_org[organization_id] >= self.org_cap:
            raise UploadsBusy(
                f"your organization holds its share of this server's uploads ({self.org_cap} "
                "at once, BUCKETD_MAX_UPLOADS_ORG_FRACTION): retry when one finishes",
                retry_after_seconds=self._retry_after,
            )
        self._held += 1
        self._by_org[organization_id] += 1
        try:
            yield
        finally:
            self._held -= 1
            self._by_org[organization_id] -= 1
            if not self._by_org[organization_id]:
                del self._by_org[organization_id]
