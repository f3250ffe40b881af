"""Claims that keep objects unique: idempotency keys and the bucket's unique key.

A claim is a document whose `_id` is what is claimed; MongoDB's `_id` uniqueness makes the first
writer win (see storage/claims.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bucketd.server.domain.models import Bucket, Namespace, ObjectRecord
from bucketd.server.domain.object_plan import ObjectPlan
from bucketd.server.domain.objects import WRITING_STATUS, unique_key_value
from bucketd.server.errors import AlreadyExists, FailedPrecondition, NotFound
from bucketd.server.services.ports import ClaimStore, ObjectStore

IDEMPOTENCY_WAIT_SECONDS = 10.0
POLICIES = frozenset({"insert", "update", "upsert"})


def _idempotency_claim(bucket: Bucket, key: str) -> str:
    return f"idem:{bucket.bucket_id}:{key}"


def _unique_claim(bucket: Bucket, plan: ObjectPlan) -> str:
    assert bucket.unique_key
    return f"ukey:{bucket.bucket_id}:{unique_key_value(bucket.unique_key, plan.metadata)}"


def claim_ids(bucket: Bucket, plan: ObjectPlan) -> list[str]:
    """The claims a new object of `plan` holds once created in `bucket` (its record keeps
    them: they are released by id, the claims' shard key)."""
    ids = [_idempotency_claim(bucket, plan.idempotency_key)] if plan.idempotency_key else []
    return ids + ([_unique_claim(bucket, plan)] if bucket.unique_key else [])


class ObjectClaims:
    def __init__(self, claims: ClaimStore, objects: ObjectStore) -> None:
        self._claims = claims
        self._objects = objects

    async def idempotency_holder(
        self, namespace: Namespace, bucket: Bucket, key: str, object_id: str
    ) -> str | None:
        """None when `object_id` now holds the idempotency key; else the object that does."""
        return await self._claims.claim(
            _idempotency_claim(bucket, key),
            namespace_id=namespace.namespace_id,
            bucket_id=bucket.bucket_id,
            object_id=object_id,
        )

    async def unique_key_holder(
        self,
        namespace: Namespace,
        bucket: Bucket,
        plan: ObjectPlan,
        policy: str | None,
        object_id: str,
    ) -> ObjectRecord | None:
        """None to create `object_id`; else the existing object the policy says to update."""
        if not bucket.unique_key:
            return None
        chosen = _policy(bucket.unique_key, policy)
        claim = _unique_claim(bucket, plan)
        holder = (
            await self._claims.claim(
                claim,
                namespace_id=namespace.namespace_id,
                bucket_id=bucket.bucket_id,
                object_id=object_id,
            )
            if chosen != "update"
            else await self._claims.find_claim(claim)
        )
        if holder is None:
            if chosen == "update":
                raise NotFound(
                    "policy=update: no object has this unique key yet",
                    details={"resource": "object"},
                )
            return None
        if chosen == "insert":
            raise AlreadyExists(
                f"An object with this unique key exists: {holder}",
                details={"resource": "object", "id": holder},
            )
        record = await self._objects.get(namespace.namespace_id, bucket.bucket_id, holder)
        if record is None:
            raise FailedPrecondition("The object holding this unique key is being written; retry")
        return record

    async def release(self, record: ObjectRecord) -> None:
        """Every claim the object holds (by the ids its record kept, when it kept them)."""
        await self._claims.release_claims(record.namespace_id, record.object_id, record.claims)

    async def wait_for(self, namespace: Namespace, bucket: Bucket, object_id: str) -> ObjectRecord:
        """The object another request (same idempotency key) creates; it may still be writing."""
        delay = 0.02
        deadline = asyncio.get_running_loop().time() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            record = await self._objects.get(namespace.namespace_id, bucket.bucket_id, object_id)
            if record is not None and record.status != WRITING_STATUS:
                return record
            if asyncio.get_running_loop().time() > deadline:
                raise FailedPrecondition(
                    f"Object {object_id} with this idempotency_key is still being written; retry"
                )
            await asyncio.sleep(delay)  # another request is writing it: back off, then look again
            delay = min(delay * 2, 0.5)


def _policy(unique_key: dict[str, Any], policy: str | None) -> str:
    """The call's policy, else the bucket's default one; there must be one."""
    chosen = policy or unique_key.get("default_policy")
    if chosen not in POLICIES:
        raise FailedPrecondition(
            "policy: the bucket has a unique_key; pass ?policy=insert|update|upsert or give "
            "the bucket a unique_key.default_policy",
            details={"field": "policy"},
        )
    return str(chosen)
