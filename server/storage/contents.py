"""The content registry in MongoDB: (namespace_id, SHA-256) -> where the bytes are, who holds them.

Every change is one single-document atomic operation, so that any number of bucketd instances can
hold, register, release and collect contents at once without transactions:
- a hold adds a holder reference ($addToSet: idempotent) only to a content still `stored`;
- new bytes register with a unique (namespace_id, dedup_key): the first writer of a SHA-256 wins,
  a later one holds the winner instead and drops its own copy;
- a release pulls references ($pull: idempotent); a content left with no holder gets
  `released_at`, and the janitor deletes it once the grace period has passed — first marking it
  `deleting` (a hold can no longer find it), then the bytes, then the record.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.contents import Content, dedup_key
from bucketd.server.errors import AlreadyExists, StorageUnavailable
from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document

STORED = "stored"
DELETING = "deleting"
REGISTER_ATTEMPTS = 6
REGISTER_BACKOFF_SECONDS = 0.01  # then 20, 40, 80, 160 ms
# Holder references kept in one content's record (~50 bytes each, well under MongoDB's 16 MiB).
# A content held this many times is retired as a dedup target: the next bytes start a new one.
MAX_HOLDERS = 100_000


def _content(doc: Document) -> Content:
    return Content(
        content_id=doc["_id"],
        namespace_id=doc["namespace_id"],
        sha256=doc["sha256"],
        storage_key=doc["storage_key"],
        size_bytes=doc["size_bytes"],
        mime_type=doc["mime_type"],
    )


def _canonical(namespace_id: str, sha256: str) -> dict[str, Any]:
    return {"namespace_id": namespace_id, "dedup_key": sha256, "state": STORED}


def _held(ref: str) -> dict[str, Any]:
    return {"$addToSet": {"holders": ref}, "$set": {"released_at": None}}


class MongoContents:
    def __init__(
        self, database: AsyncDatabase[Document], *, max_holders: int = MAX_HOLDERS
    ) -> None:
        self._contents = database["contents"]
        self._max_holders = max_holders

    async def ensure_indexes(self) -> None:
        with translated():
            await self._contents.create_index(
                [("namespace_id", ASCENDING), ("dedup_key", ASCENDING)], unique=True
            )
            await self._contents.create_index([("namespace_id", ASCENDING), ("holders", ASCENDING)])
            await self._contents.create_index([("state", ASCENDING), ("released_at", ASCENDING)])

    async def hold(self, namespace_id: str, sha256: str, ref: str) -> Content | None:
        """The stored content of this SHA-256, now held by `ref`; None when there is none (or it
        is held MAX_HOLDERS times: registering the caller's bytes then retires it). One command:
        a miss, the usual case of new bytes, costs nothing more."""
        room = {f"holders.{self._max_holders - 1}": {"$exists": False}}
        with translated():
            doc = await self._contents.find_one_and_update(
                {**_canonical(namespace_id, sha256), **room},
                _held(ref),
                return_document=ReturnDocument.AFTER,
            )
        return _content(doc) if doc else None

    async def _retire_if_full(self, namespace_id: str, sha256: str) -> None:
        """A content of this SHA-256 held MAX_HOLDERS times stops being the dedup target: its
        SHA-256 is free for the new bytes that found no room in it."""
        full = {f"holders.{self._max_holders - 1}": {"$exists": True}}
        with translated():
            found = await self._contents.find_one(
                {**_canonical(namespace_id, sha256), **full}, {"_id": 1}
            )
            if found is not None:
                await self._contents.update_one(
                    {"_id": found["_id"], "dedup_key": sha256},
                    {"$set": {"dedup_key": dedup_key(sha256, found["_id"], canonical=False)}},
                )

    async def hold_id(self, namespace_id: str, content_id: str, ref: str) -> Content | None:
        """This content, now held by `ref`; None when it is gone (or being deleted)."""
        with translated():
            doc = await self._contents.find_one_and_update(
                {"_id": content_id, "namespace_id": namespace_id, "state": STORED},
                _held(ref),
                return_document=ReturnDocument.AFTER,
            )
        return _content(doc) if doc else None

    async def register(
        self, content: Content, ref: str, *, canonical: bool, now: datetime
    ) -> Content:
        """Register new bytes held by `ref`. When they are canonical and another writer registered
        the same SHA-256 first, that content is held instead and returned: drop your copy."""
        doc = {
            "_id": content.content_id,
            "namespace_id": content.namespace_id,
            "sha256": content.sha256,
            "dedup_key": dedup_key(content.sha256, content.content_id, canonical=canonical),
            "storage_key": content.storage_key,
            "size_bytes": content.size_bytes,
            "mime_type": content.mime_type,
            "holders": [ref],
            "released_at": None,
            "state": STORED,
            "created_at": now,
        }
        for attempt in range(REGISTER_ATTEMPTS):
            if attempt:  # let the winner's record settle (a deletion, a slow replica read)
                await asyncio.sleep(REGISTER_BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                with translated(duplicate="registered"):
                    await self._contents.insert_one(doc)
                return content
            except AlreadyExists:
                winner = await self.hold(content.namespace_id, content.sha256, ref)
                if winner is not None:
                    return winner
                # The winner is full (retired now) or being deleted, letting go of the SHA-256:
                # try again.
                await self._retire_if_full(content.namespace_id, content.sha256)
        raise StorageUnavailable(f"could not register content {content.content_id}; retry")

    async def find(self, content_id: str) -> Content | None:
        with translated():
            doc = await self._contents.find_one({"_id": content_id, "state": STORED})
        return _content(doc) if doc else None

    async def release(self, namespace_id: str, refs: list[str], *, now: datetime) -> None:
        """Pull these holder references wherever they are; start the grace period of contents
        left with no holder."""
        if not refs:
            return
        with translated():
            await self._contents.update_many(
                {"namespace_id": namespace_id, "holders": {"$in": refs}},
                {"$pull": {"holders": {"$in": refs}}},
            )
            await self.start_grace(now, namespace_id=namespace_id)

    async def start_grace(self, now: datetime, *, namespace_id: str | None = None) -> int:
        """Give `released_at` to unheld contents that have none (also after a crash between a
        release's two steps)."""
        scope: dict[str, Any] = {"namespace_id": namespace_id} if namespace_id else {}
        with translated():
            result = await self._contents.update_many(
                {**scope, "holders": {"$size": 0}, "released_at": None, "state": STORED},
                {"$set": {"released_at": now}},
            )
        return result.modified_count

    async def collectable(self, *, released_before: datetime, limit: int = 100) -> list[str]:
        """Ids of contents unheld since before `released_before`, and of interrupted deletions."""
        with translated():
            docs = (
                await self._contents.find(
                    {
                        "$or": [
                            {"state": STORED, "released_at": {"$lte": released_before}},
                            {"state": DELETING},
                        ]
                    },
                    {"_id": 1},
                )
                .limit(limit)
                .to_list()
            )
        return [doc["_id"] for doc in docs]

    async def start_deleting(self, content_id: str, *, released_before: datetime) -> Content | None:
        """Take a content for deletion if it is still unheld (or its deletion was interrupted):
        from now on no hold finds it, and its SHA-256 is free for new bytes."""
        with translated():
            doc = await self._contents.find_one_and_update(
                {
                    "_id": content_id,
                    "$or": [
                        {
                            "state": STORED,
                            "holders": {"$size": 0},
                            "released_at": {"$lte": released_before},
                        },
                        {"state": DELETING},
                    ],
                },
                {"$set": {"state": DELETING, "dedup_key": f"deleting:{content_id}"}},
                return_document=ReturnDocument.AFTER,
            )
        return _content(doc) if doc else None

    async def forget(self, content_id: str) -> None:
        with translated():
            await self._contents.delete_one({"_id": content_id, "state": DELETING})

    async def holders(self, content_id: str) -> list[str]:
        """For tests and diagnostics."""
        with translated():
            doc = await self._contents.find_one({"_id": content_id})
        return list(doc["holders"]) if doc else []
