"""The storage adapters against the real wire servers (stand-ins or MONGODB_URI/S3_ENDPOINT_URL)."""

from __future__ import annotations

import dataclasses

import pytest

from bucketd.server.errors import StorageUnavailable
from bucketd.server.settings import Settings
from bucketd.server.storage.mongo import open_database, ping
from bucketd.server.storage.s3 import ensure_bucket, open_s3


async def test_mongo_ping_and_round_trip(settings: Settings) -> None:
    assert settings.mongodb_uri
    async with open_database(settings.mongodb_uri, settings.mongodb_database) as database:
        await ping(database)
        await database.things.insert_one({"_id": "a", "namespace_id": "ns_1"})
        assert await database.things.find_one({"_id": "a"}) == {"_id": "a", "namespace_id": "ns_1"}


async def test_mongo_ping_fails_clearly_when_nothing_listens(settings: Settings) -> None:
    async with open_database("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300", "x") as db:
        with pytest.raises(StorageUnavailable, match="MongoDB does not answer"):
            await ping(db)


async def test_ensure_bucket_creates_it_once(settings: Settings) -> None:
    async with open_s3(settings) as s3:
        await ensure_bucket(s3, settings.s3_bucket, region=settings.aws_region)
        await ensure_bucket(s3, settings.s3_bucket, region=settings.aws_region)  # idempotent
        await s3.put_object(Bucket=settings.s3_bucket, Key="k", Body=b"bytes")
        response = await s3.get_object(Bucket=settings.s3_bucket, Key="k")
        async with response["Body"] as body:
            assert await body.read() == b"bytes"


async def test_ensure_bucket_fails_clearly_when_s3_is_down(settings: Settings) -> None:
    down = dataclasses.replace(settings, s3_endpoint_url="http://127.0.0.1:9")
    async with open_s3(down) as s3:
        with pytest.raises(StorageUnavailable, match="is not usable"):
            await ensure_bucket(s3, "any", region=down.aws_region)
