"""Resumable upload sessions in MongoDB: the header, and per blob its multipart upload and parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.storage.documents import translated
from bucketd.server.storage.mongo import Document


class MongoSessions:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._sessions = database["upload_sessions"]

    async def insert(self, session: Document) -> None:
        with translated():
            await self._sessions.insert_one(session)

    async def get(self, namespace_id: str, session_id: str) -> Document | None:
        with translated():
            return await self._sessions.find_one({"_id": session_id, "namespace_id": namespace_id})

    async def save_parts(self, session_id: str, index: int, parts: list[dict[str, Any]]) -> None:
        with translated():
            await self._sessions.update_one(
                {"_id": session_id}, {"$set": {f"blobs.{index}.parts": parts}}
            )

    async def delete(self, session_id: str) -> None:
        with translated():
            await self._sessions.delete_one({"_id": session_id})

    async def expired(self, now: datetime, limit: int = 50) -> list[Document]:
        with translated():
            return await self._sessions.find({"expires_at": {"$lt": now}}).limit(limit).to_list()
