"""Readiness: the gRPC health service (and so the gateway's /readyz) says SERVING only while
MongoDB and S3 both answer, checked every BUCKETD_READINESS_SECONDS; NOT_SERVING while either
does not, and SERVING again when both do — no restart needed. Each store has its own health
service name too ("mongodb", "s3"), so that /readyz names the one that does not answer, and the
first failed check is logged at once, naming it. The indexes are made once, and the storage
bucket is re-created if it went missing (an S3 server that lost its data)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]  # stubs predate it
from pymongo.asynchronous.database import AsyncDatabase

from bucketd.server.domain.deadlines import set_call_deadline
from bucketd.server.errors import StorageUnavailable
from bucketd.server.settings import Settings
from bucketd.server.storage.mongo import Document, ping
from bucketd.server.storage.s3 import S3Client, ensure_bucket, set_bucket_cors
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
        self._cors_set = False
        self.serving = False
        self.first_ready = asyncio.Event()

    @property
    def _check_seconds(self) -> float:
        """How long one check may wait for its store: a stalled one turns not-ready within
        about one interval (both stores are checked at once)."""
        return max(self._settings.readiness_seconds, 1.0)

    async def _mongodb(self) -> None:
        await ping(self._database, timeout_seconds=self._check_seconds)
        if not self._indexed:
            await self._stores.ensure_indexes()
            self._indexed = True

    async def _s3_bucket(self) -> None:
        await ensure_bucket(self._s3, self._settings.s3_bucket, region=self._settings.aws_region)
        if not self._cors_set:  # once, at start-up: BUCKETD_CORS_ORIGINS for presigned PUTs
            await set_bucket_cors(self._s3, self._settings.s3_bucket, self._settings.cors_origins)
            self._cors_set = True

    async def _problem(self, store: str, check: Callable[[], Awaitable[None]]) -> str | None:
        """None when the store answers; else what is wrong with it (for the log)."""
        set_call_deadline(self._check_seconds)  # each store call of the check gets at most this
        try:
            async with asyncio.timeout(self._check_seconds):
                await check()
        except StorageUnavailable as error:
            return error.message
        except TimeoutError:
            return f"{store} did not answer within {self._check_seconds:g} s"
        return None

    async def run(self) -> None:
        stores = {"mongodb": ("MongoDB", self._mongodb), "s3": ("S3", self._s3_bucket)}
        state: dict[str, bool | None] = dict.fromkeys(stores, None)
        while True:
            problems = await asyncio.gather(
                *(self._problem(store, check) for store, check in stores.values())
            )
            for service, problem in zip(stores, problems, strict=True):
                if (problem is None) != state[service]:
                    state[service] = problem is None
                    await self._health.set(service, SERVING if problem is None else NOT_SERVING)
                    if problem is not None:
                        log.warning("not ready: %s", problem)  # names the store
            serving = all(state.values())
            if serving != self.serving:
                self.serving = serving
                await self._health.set("", SERVING if serving else NOT_SERVING)
                if serving:
                    log.info("ready: MongoDB and S3 answer")
                    self.first_ready.set()
            await asyncio.sleep(self._settings.readiness_seconds)
