"""The janitor: one sweep that reclaims what dead or stalled writers left, and deletes bytes
nobody holds any more. Every instance runs it; each step takes its work with a conditional
single-document update (a lease in MongoDB), so instances never do the same work twice and a
janitor that dies mid-step leaves it to the next one.

1. Writes whose lease ran out (a crashed instance, a dropped stream, a stalled URL source, an
   expired upload session): their multipart uploads are aborted, their unregistered bytes
   deleted, the holder references they may have taken released, and a new object is FAILED
   (or removed, when its bucket was deleted meanwhile: Drafts.withdrawn_with_bucket).
2. Rewrites committed just before a crash: the blobs they replaced are released.
3. Contents nobody has held for BUCKETD_BLOB_GRACE_SECONDS: deleted (record marked first).
4. Presigned uploads: expired ones FAILED and their files removed; abandoned confirms resumed.
5. Tasks whose lease ran out (their instance died): run again from the start.
6. Multipart uploads older than BUCKETD_MULTIPART_MAX_AGE_SECONDS that no write names (a
   stalled S3 may open one after its caller gave up and cleaned up): aborted. Aborting one
   twice is harmless, so instances need no lease for it; the age keeps it clear of a writer
   between starting its upload and recording it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bucketd import metrics
from bucketd.server.domain.models import ObjectRecord
from bucketd.server.domain.writes import WriteKind, WriteLease
from bucketd.server.errors import BucketdError
from bucketd.server.services.drafts import Drafts, drop_pending
from bucketd.server.services.ports import BlobStorage, ContentRegistry, WriteStore
from bucketd.server.services.tasks import Tasks
from bucketd.server.services.upload_confirm import UploadConfirmations

log = logging.getLogger("bucketd.janitor")
Clock = Callable[[], datetime]

EXPIRED_WRITE = (
    "the write stopped before it finished: its lease ran out (the writer crashed or lost its "
    "connection, or its source sent too slowly)"
)
EXPIRED_SESSION = "the upload session expired before its stream finished"
STALE_MULTIPART_BATCH = 100  # stale multipart uploads one sweep aborts, at most


@dataclass(frozen=True)
class SweepReport:
    writes_reclaimed: int = 0
    multipart_uploads_aborted: int = 0
    releases_finished: int = 0
    contents_deleted: int = 0
    uploads_expired: int = 0
    confirms_resumed: int = 0
    tasks_resumed: int = 0
    stale_multiparts_aborted: int = 0

    def __bool__(self) -> bool:
        return any(vars(self).values())


class Janitor:
    def __init__(
        self,
        *,
        writes: WriteStore,
        drafts: Drafts,
        registry: ContentRegistry,
        storage: BlobStorage,
        confirmations: UploadConfirmations,
        tasks: Tasks,
        lease: timedelta,
        grace: timedelta,
        clock: Clock,
        multipart_age: timedelta = timedelta(days=1),
    ) -> None:
        self._writes = writes
        self._drafts = drafts
        self._registry = registry
        self._storage = storage
        self._confirmations = confirmations
        self._tasks = tasks
        self._lease = lease
        self._grace = grace
        self._clock = clock
        self._multipart_age = multipart_age

    async def sweep(self) -> SweepReport:
        reclaimed, aborted = await self.reclaim_writes()
        released = await self.finish_releases()
        deleted = await self.collect_contents()
        expired, resumed = await self._confirmations.sweep()
        tasks = await self._tasks.sweep()
        stale = await self.abort_stale_multiparts()
        return SweepReport(reclaimed, aborted, released, deleted, expired, resumed, tasks, stale)

    async def reclaim_writes(self) -> tuple[int, int]:
        """(writes reclaimed, multipart uploads aborted)."""
        now = self._clock()
        reclaimed = aborted = 0
        for object_id, write_id in await self._writes.expired(now):
            record = await self._writes.reclaim(
                object_id, write_id, now=now, until=now + self._lease
            )
            if record is None or record.write is None:
                continue  # committed, renewed, or taken by another janitor meanwhile
            aborted += await self._reclaim(record, record.write)
            reclaimed += 1
        return reclaimed, aborted

    async def _reclaim(self, record: ObjectRecord, write: WriteLease) -> int:
        aborted = await drop_pending(self._storage, self._registry, write.pending)
        await self._registry.release(record.namespace_id, write.refs, now=self._clock())
        # a new object is still PROCESSING unless its writer failed it already
        if write.new_object and not await self._drafts.withdrawn_with_bucket(record):
            reason = EXPIRED_SESSION if write.kind is WriteKind.SESSION else EXPIRED_WRITE
            await self._writes.fail(record.object_id, write.write_id, reason, now=self._clock())
        await self._writes.end_write(record.object_id, write.write_id)
        log.info("reclaimed write %s of %s (%s)", write.write_id, record.object_id, write.kind)
        return aborted

    async def finish_releases(self) -> int:
        """Release the blobs that committed rewrites replaced, where a crash left them held."""
        done = 0
        for record in await self._writes.unreleased(self._clock() - self._lease):
            await self._registry.release(record.namespace_id, record.releases, now=self._clock())
            await self._writes.clear_releases(record.object_id, record.releases)
            done += 1
        return done

    async def collect_contents(self) -> int:
        """Delete the bytes of contents nobody has held for the grace period."""
        now = self._clock()
        await self._registry.start_grace(now)
        cutoff = now - self._grace
        deleted = 0
        for content_id in await self._registry.collectable(released_before=cutoff):
            content = await self._registry.start_deleting(content_id, released_before=cutoff)
            if content is None:
                continue  # held again, or taken by another janitor
            await self._storage.delete(content.storage_key)
            await self._registry.forget(content_id)
            deleted += 1
        return deleted

    async def abort_stale_multiparts(self) -> int:
        """Abort the multipart uploads older than the age limit that no write names: at most
        STALE_MULTIPART_BATCH per sweep, asked of MongoDB in batches of that size (an old one
        still named, a long-paused session's, never hides the stale ones after it)."""
        before = self._clock() - self._multipart_age
        uploads = await self._storage.multipart_uploads(started_before=before)
        aborted = 0
        for start in range(0, len(uploads), STALE_MULTIPART_BATCH):
            batch = uploads[start : start + STALE_MULTIPART_BATCH]
            named = await self._writes.named_multiparts([upload_id for _, upload_id in batch])
            for key, upload_id in batch:
                if upload_id in named or aborted == STALE_MULTIPART_BATCH:
                    continue
                await self._storage.abort_multipart(key, upload_id)
                log.info(
                    "aborted multipart upload %s of %s: stale, no write names it", upload_id, key
                )
                aborted += 1
            if aborted == STALE_MULTIPART_BATCH:
                break
        return aborted


async def sweep_safely(janitor: Janitor) -> SweepReport | None:
    """One sweep that never raises: the loop that runs it must outlive a bad round."""
    try:
        report = await janitor.sweep()
    except BucketdError as error:
        log.warning("sweep failed: %s", error.message)
    except Exception:
        log.exception("sweep failed")
    else:
        for kind, count in vars(report).items():
            if count:
                metrics.JANITOR_WORK.labels(kind).inc(count)
        return report
    return None
