"""Write leases in MongoDB, inside the object record they write (its `write` field).

Keeping the lease in the record makes "record first" one insert, and makes the decisive steps
single-document atomic operations: a commit replaces the record only while its write is still
the writer's (`write.write_id` matches, not reclaimed), and the janitor reclaims a write only once
its lease has run out. Whichever comes first wins; the other sees it and stands down.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.models import ObjectRecord
from bucketd.server.domain.status import Status
from bucketd.server.domain.writes import Hold, Part, PendingContent, Tail, WriteKind, WriteLease
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document
from bucketd.server.storage.object_documents import object_document, object_record


def _live(object_id: str, write_id: str) -> dict[str, Any]:
    """The record while `write_id` is its write and no janitor has reclaimed it."""
    return {"_id": object_id, "write.write_id": write_id, "write.reclaimed": {"$ne": True}}


class MongoWrites:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._objects = database["objects"]

    async def by_write(self, namespace_id: str, write_id: str) -> ObjectRecord | None:
        with translated():
            doc = await self._objects.find_one(
                {"namespace_id": namespace_id, "write.write_id": write_id}
            )
        return object_record(doc) if doc else None

    async def by_session(self, session_id: str) -> ObjectRecord | None:
        with translated():  # an index of its own (storage/objects.py): no namespace needed
            doc = await self._objects.find_one(
                {"write.write_id": session_id, "write.kind": WriteKind.SESSION.value}
            )
        return object_record(doc) if doc else None

    async def by_committed_write(self, namespace_id: str, write_id: str) -> ObjectRecord | None:
        """The object whose last committed write was `write_id` (a finished session)."""
        with translated():
            doc = await self._objects.find_one(
                {"namespace_id": namespace_id, "write_id": write_id, "soft_deleted_at": None}
            )
        return object_record(doc) if doc else None

    async def hold_stream(
        self, object_id: str, write_id: str, token: str, *, until: datetime, now: datetime
    ) -> Hold:
        """Renew the caller's hold, or take a free (or run-out) one unless a newer request
        wants it; say which."""
        live = _live(object_id, write_id)
        with translated():
            mine = await self._objects.find_one_and_update(
                {**live, "write.stream_token": token},
                {"$set": {"write.streaming_until": until}},
                projection={"write.wanted_by": 1, "write.wanted_until": 1},
            )
            if mine is not None:
                wanted = mine["write"].get("wanted_by") not in {None, token}
                wanted = wanted and mine["write"]["wanted_until"] > now
                return Hold.WANTED if wanted else Hold.TAKEN
            free = [{"write.streaming_until": None}, {"write.streaming_until": {"$lte": now}}]
            not_wanted = [
                {"write.wanted_by": None},
                {"write.wanted_by": token},
                {"write.wanted_until": {"$lte": now}},
            ]
            taken = await self._objects.update_one(
                {**live, "$and": [{"$or": free}, {"$or": not_wanted}]},
                {
                    "$set": {
                        "write.stream_token": token,
                        "write.streaming_until": until,
                        "write.wanted_by": None,
                    }
                },
            )
            if taken.matched_count == 1:
                return Hold.TAKEN
            exists = await self._objects.count_documents(live, limit=1)
        return Hold.BUSY if exists else Hold.GONE

    async def want_stream(
        self, object_id: str, write_id: str, token: str, *, until: datetime
    ) -> None:
        """Ask the session's holder to let go: `token` takes it next, if it does by `until`."""
        with translated():
            await self._objects.update_one(
                _live(object_id, write_id),
                {"$set": {"write.wanted_by": token, "write.wanted_until": until}},
            )

    async def release_stream(self, object_id: str, write_id: str, token: str) -> None:
        with translated():
            await self._objects.update_one(
                {**_live(object_id, write_id), "write.stream_token": token},
                {"$set": {"write.stream_token": None, "write.streaming_until": None}},
            )

    async def start_write(self, record: ObjectRecord, write: WriteLease) -> bool:
        """A write on an existing object, if nobody else is writing it."""
        with translated():
            result = await self._objects.update_one(
                {"_id": record.object_id, "write": {"$exists": False}},
                {"$set": {"write": asdict(write)}},
            )
        return result.modified_count == 1

    async def add_pending(
        self, object_id: str, write_id: str, pending: PendingContent, ref: str
    ) -> None:
        """A blob announced mid-stream: its new bytes and its holder reference."""
        with translated():
            await self._objects.update_one(
                _live(object_id, write_id),
                {"$push": {"write.pending": asdict(pending), "write.refs": ref}},
            )

    async def set_multipart(
        self, object_id: str, write_id: str, index: int, multipart_id: str
    ) -> None:
        with translated():
            await self._objects.update_one(
                _live(object_id, write_id),
                {"$set": {f"write.pending.{index}.multipart_id": multipart_id}},
            )

    async def save_parts(
        self, object_id: str, write_id: str, index: int, parts: list[Part], head: bytes
    ) -> None:
        item = f"write.pending.{index}"
        with translated():
            await self._objects.update_one(
                _live(object_id, write_id),
                {"$set": {f"{item}.parts": [asdict(part) for part in parts], f"{item}.head": head}},
            )

    async def save_tail(
        self, object_id: str, write_id: str, index: int, tail: Tail, head: bytes
    ) -> None:
        item = f"write.pending.{index}"
        with translated():
            await self._objects.update_one(
                _live(object_id, write_id),
                {"$set": {f"{item}.tail": asdict(tail), f"{item}.head": head}},
            )

    async def renew(self, object_id: str, write_id: str, until: datetime) -> bool:
        with translated():
            result = await self._objects.update_one(
                _live(object_id, write_id), {"$set": {"write.lease_until": until}}
            )
        return result.matched_count == 1

    async def commit(self, record: ObjectRecord, write_id: str) -> bool:
        """The final record (without its write), if the write was not reclaimed meanwhile; by
        its whole shard key (namespace, bucket, id), so that a sharded cluster asks one shard."""
        where = {
            "namespace_id": record.namespace_id,
            "bucket_id": record.bucket_id,
            **_live(record.object_id, write_id),
        }
        with translated():
            result = await self._objects.replace_one(where, object_document(record))
        return result.matched_count == 1

    async def fail(self, object_id: str, write_id: str, error: str, *, now: datetime) -> bool:
        """A new object whose write failed: FAILED with `error` (the first one that is given).
        The write stays until its leftovers are cleaned up (end_write)."""
        with translated():
            result = await self._objects.update_one(
                {"_id": object_id, "write.write_id": write_id, "status": Status.PROCESSING},
                {"$set": {"status": Status.FAILED, "error": error, "updated_at": now}},
            )
        return result.modified_count == 1

    async def expire(self, object_id: str, write_id: str, *, now: datetime) -> None:
        """Leave a failed write's leftovers to the next janitor sweep."""
        with translated():
            await self._objects.update_one(
                {"_id": object_id, "write.write_id": write_id}, {"$set": {"write.lease_until": now}}
            )

    async def end_write(self, object_id: str, write_id: str) -> None:
        """The write is over and its leftovers are gone (an existing object stays as it was)."""
        with translated():
            await self._objects.update_one(
                {"_id": object_id, "write.write_id": write_id}, {"$unset": {"write": ""}}
            )

    async def expired(self, now: datetime, limit: int = 50) -> list[tuple[str, str]]:
        """(object_id, write_id) of writes whose lease has run out."""
        with translated():
            docs = (
                await self._objects.find({"write.lease_until": {"$lt": now}}, {"write.write_id": 1})
                .limit(limit)
                .to_list()
            )
        return [(doc["_id"], doc["write"]["write_id"]) for doc in docs]

    async def reclaim(
        self, object_id: str, write_id: str, *, now: datetime, until: datetime
    ) -> ObjectRecord | None:
        """Take an expired write for the janitor: its writer can no longer renew or commit it,
        and another janitor may take it over only if this one's lease (`until`) runs out too."""
        with translated():
            doc = await self._objects.find_one_and_update(
                {"_id": object_id, "write.write_id": write_id, "write.lease_until": {"$lt": now}},
                {"$set": {"write.reclaimed": True, "write.lease_until": until}},
                return_document=ReturnDocument.AFTER,
            )
        return object_record(doc) if doc else None

    async def unreleased(self, before: datetime, limit: int = 50) -> list[ObjectRecord]:
        """Committed rewrites whose replaced blobs were not released (a crash right after)."""
        with translated():
            docs = (
                await self._objects.find(
                    {"releases.0": {"$exists": True}, "updated_at": {"$lt": before}}
                )
                .limit(limit)
                .to_list()
            )
        return [object_record(doc) for doc in docs]

    async def clear_releases(self, object_id: str, refs: list[str]) -> None:
        with translated():
            await self._objects.update_one(
                {"_id": object_id}, {"$pull": {"releases": {"$in": refs}}}
            )

    async def named_multiparts(self, multipart_ids: list[str]) -> set[str]:
        """Which of `multipart_ids` a write in flight (a session's too) still names."""
        with translated():
            docs = await self._objects.find(
                {"write.pending.multipart_id": {"$in": multipart_ids}}, {"write.pending": 1}
            ).to_list()
        named = {p.get("multipart_id") for doc in docs for p in doc["write"]["pending"]}
        return named & set(multipart_ids)
