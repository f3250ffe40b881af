"""Readiness: the gRPC health service (and so the gateway's /readyz) says SERVING only while
MongoDB and S3 both answer, checked every BUCKETD_READINESS_SECONDS; NOT_SERVING while either
does not, and SERVING again when both do — no restart needed. The indexes are made once, and the
storage bucket is re-created if it went missing (an S3 server that lost its data)."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs predate it
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.errors import StorageUnavailable
from bucketd.server.settings import Settings
from bucketd.server.storage.mongo import Document, ping
from bucketd.server.storage.s3 import S3Client, ensure_bucket
from bucketd.server.wiring import Stores

log = logging.getLogger("bucketd.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Readiness:
    def __init__(
        self,
        health: health_aio.HealthServicer,
        database: AsyncDatabase[Document],
        stores: Stores,
        s3: S3Client,
        settings: Settings,
    ) -> None:
        self._health = health
        self._database = database
        self._stores = stores
        self._s3 = s3
        self._settings = settings
        self._indexed = False
        self.serving = False
        self.first_ready = asyncio.Event()

    async def _check(self) -> str | None:
        """None when MongoDB and S3 answer; else what does not."""
        budget = self._settings.readiness_seconds
        try:
            async with asyncio.timeout(max(budget, 1.0)):
                await ping(self._database)
                if not self._indexed:
                    await self._stores.ensure_indexes()
                    self._indexed = True
                await ensure_bucket(
                    self._s3, self._settings.s3_bucket, region=self._settings.aws_region
                )
        except StorageUnavailable as error:
            return error.message
        except TimeoutError:
            return "MongoDB or S3 did not answer in time"
        return None

    async def run(self) -> None:
        while True:
            problem = await self._check()
            serving = problem is None
            if serving != self.serving:
                self.serving = serving
                await self._health.set("", SERVING if serving else NOT_SERVING)
                if serving:
                    log.info("ready: MongoDB and S3 answer")
                    self.first_ready.set()
                else:
                    log.warning("not ready: %s", problem)
            await asyncio.sleep(self._settings.readiness_seconds)
