"""Issue 21: every call of the public client works, driven by its own models (contract.py).

For each of the contract's operations, over real HTTP:
- a request carrying **every** property its request model declares (schema-valid values, the
  model's defaults where it has them) and every declared query parameter succeeds, and its 2xx
  body validates against the response model;
- one undeclared body key is refused (422 `extra_forbidden`, naming it) — on object bodies it is a
  user field instead, answered at the root; an operation without a body refuses an undeclared
  query parameter the same way;
- a plain request's answer validates too (its lists hold results, so the items are checked).
Nothing here lists the operations or their fields by hand: they come from the contract file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from bucketd.gateway.routes import routes_from
from scripts.api_table import NOT_SERVED
from tests.compat.contract import (
    CONTRACT_FILE,
    DEFS,
    OPERATIONS,
    REFERENCE_FILE,
    Values,
    sha256,
    validator,
)
from tests.e2e.harness import Service, Tenant
from tests.shared_service import shared_service

BUCKET = "things"
SCHEMA = {
    "properties": {
        "title": {"type": "string"},
        "note": {"type": "text"},
        "doc": {"type": "pdf"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Object bodies: undeclared root keys are user fields there (the public docs' one exception).
OBJECT_BODIES = {"CreateObjectRequest", "UpdateObjectRequest", "PatchObjectRequest"}
UNDECLARED = "not_a_declared_key"
# One bucketd for the module: each operation's test gets organizations of its own.
settings, service, acme, globex = shared_service()


@dataclass
class World:
    """What the operations act on, made through the API itself."""

    service: Service
    tenant: Tenant
    objects: list[str] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        async with self.service.http.request(
            method, path, json=body, params=query, headers=self.tenant.headers()
        ) as reply:
            text = await reply.text()
            return reply.status, (await reply.json() if text else None)

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body=body)
        assert status == 200, answer
        return answer


async def _world(service: Service, tenant: Tenant, operation: dict[str, Any]) -> World:
    """Two of everything the operation lists (so that a page has a next one), and what it
    acts on; only what its path reaches is made."""
    world = World(service, tenant)
    namespace = await world.ok("GET", "/v1/namespaces/default")
    world.values["namespace_id"] = namespace["namespace_id"]
    await world.ok("POST", "/v1/namespaces", {"namespace_name": "second-space"})
    path = operation["path"]
    if path.startswith("/v1/buckets"):
        await _buckets(world)
    if path.startswith("/v1/buckets/{bucket_identifier}/objects"):
        await _objects(world)
    if path.startswith("/v1/buckets/{bucket_identifier}/uploads"):
        await _uploads(world)
    if path.startswith("/v1/tasks"):
        await _tasks(world)
    return world


async def _buckets(world: World) -> None:
    bucket = {
        "bucket_name": BUCKET,
        "bucket_schema": SCHEMA,
        "unique_key": {"fields": ["title"], "default_policy": "upsert"},
    }
    world.values["bucket_id"] = (await world.ok("POST", "/v1/buckets", bucket))["bucket_id"]
    await world.ok("POST", "/v1/buckets", {"bucket_name": "others", "bucket_schema": SCHEMA})


async def _objects(world: World) -> None:
    for title in ("first", "second"):
        blob = {"property": "note", "type": "text", "data": f"note of {title}"}
        body = {"title": title, "score": 1.5, "tags": ["a"], "blobs": [blob]}
        made = await world.ok("POST", f"/v1/buckets/{BUCKET}/objects", body)
        world.objects.append(made["object_id"])


async def _uploads(world: World, count: int = 3) -> None:
    for index in range(count):
        request = {
            "filename": f"u{index}.pdf",
            "content_type": "application/pdf",
            "blob_property": "doc",
            "object_metadata": {"title": f"upload {index}"},
        }
        upload = await world.ok("POST", f"/v1/buckets/{BUCKET}/uploads", request)
        async with aiohttp.ClientSession() as raw:
            headers = {"Content-Type": "application/pdf"}
            async with raw.put(upload["presigned_url"], data=PDF, headers=headers) as put:
                assert put.status == 200
                upload["etag"] = put.headers["ETag"]
        world.uploads.append(upload)


async def _tasks(world: World) -> None:
    """A bucket deletion, and a batch confirm (a task that may be killed)."""
    await _buckets(world)
    status, deletion = await world.call("DELETE", "/v1/buckets/others")
    assert status == 200, deletion
    await _uploads(world, count=1)
    confirmations = [{"upload_id": world.uploads[0]["upload_id"]}]
    path = f"/v1/buckets/{BUCKET}/uploads/confirm/batch"
    batch = await world.ok("POST", path, {"confirmations": confirmations})
    world.values["task_id"] = batch["task_id"]


def _blob(_: Mapping[str, Any]) -> list[dict[str, Any]]:
    text = "contract note"
    return [
        {
            "property": "note",
            "type": "text",
            "data": text,
            "key_prefix": "/notes",
            "checksum": f"sha256:{sha256(text.encode())}",
            "metadata": {"lang": "en"},
            "canonicalize_source": True,
            "force_remirror": False,
        }
    ]


def _conditions(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"field": context["filter_field"], "operator": "ne", "value": "nobody"}]


# What bucketd's rules need beyond a schema-valid value ("Model.property" -> value).
OVERRIDES: dict[str, Any] = {
    "CreateNamespaceRequest.namespace_name": "contract-space",
    "PatchNamespaceRequest.namespace_name": "default",
    "UpdateNamespaceRequest.namespace_name": "default",
    "NamespaceStatsBatchRequest.namespace_ids": lambda c: [c["namespace_id"]],
    "BucketCreateRequest.bucket_name": "contract-bucket",
    "BucketCreateRequest.bucket_schema": SCHEMA,
    "BucketCreateRequest.unique_key": {"fields": ["title"], "default_policy": "insert"},
    "BucketPatchRequest.bucket_name": BUCKET,
    "BucketUpdateRequest.bucket_name": BUCKET,
    "BucketPatchRequest.bucket_schema": {
        "properties": {**SCHEMA["properties"], "extra": {"type": "object"}}
    },
    "BucketUpdateRequest.bucket_schema": SCHEMA,
    "BucketPatchRequest.unique_key": {"fields": ["title"], "default_policy": "insert"},
    "BucketUpdateRequest.unique_key": {"fields": ["title"], "default_policy": None},
    "ListBucketsRequest.filters": {"bucket_name": BUCKET},
    "ListNamespacesRequest.filters": {"namespace_name": "default"},
    "ListBucketsRequest.sort": {"field": "bucket_name", "direction": "asc"},
    "ListNamespacesRequest.sort": {"field": "namespace_name", "direction": "asc"},
    "ListBucketsRequest.sorts": [{"field": "created_at", "direction": "desc"}],
    "ListNamespacesRequest.sorts": [{"field": "created_at", "direction": "desc"}],
    "ListBucketsRequest.search": BUCKET,
    "ListNamespacesRequest.search": "default",
    "ListObjectsRequest.search": "",
    "ListUploadsRequest.search": "",
    "ListTasksRequest.search": "",
    "ListObjectsRequest.select": ["title", "blobs"],
    "SortOption.field": "created_at",
    "LogicalOperatorInput.AND": _conditions,
    "LogicalOperatorInput.OR": _conditions,
    "LogicalOperatorInput.NOT": lambda c: [
        {"field": c["filter_field"], "operator": "eq", "value": "nobody"}
    ],
    "CreateObjectRequest.blobs": _blob,
    "CreateObjectRequest.key_prefix": "/contract",
    "CreateObjectRequest.edges": lambda c: [
        {"type": "related", "target_object_id": c["object_id"], "direction": "out"}
    ],
    "UpdateObjectRequest.key_prefix": "/contract/updated",
    "UpdateObjectRequest.metadata": {"score": 2.5},
    "PatchObjectRequest.key_prefix": "/contract/patched",
    "BulkSoftDeleteRequest.object_ids": lambda c: [c["object_id"]],
    "BulkSoftDeleteRequest.reason": "contract test",
    "ConfirmUploadRequest.etag": lambda c: c["upload"]["etag"],
    "ConfirmUploadRequest.file_size_bytes": len(PDF),
    "BatchConfirmRequest.confirmations": lambda c: [
        {"upload_id": u["upload_id"], "etag": u["etag"], "file_size_bytes": len(PDF)}
        for u in c["uploads"]
    ],
    "CreateUploadRequest.filename": "doc.pdf",
    "CreateUploadRequest.content_type": "application/pdf",
    "CreateUploadRequest.blob_property": "doc",
    "CreateUploadRequest.blob_type": "pdf",
    "CreateUploadRequest.file_hash": sha256(b"contract"),
    "CreateUploadRequest.object_metadata": {"title": "from an upload"},
    "ObjectAggregationRequest.group_by": [
        {"field": "created_at", "alias": "day", "date_trunc": "day"},
        {"field": "updated_at", "alias": "hour", "date_part": "hour"},
    ],
    "ObjectAggregationRequest.aggregations": [
        {"function": "count", "alias": "n"},
        {
            "function": "count_distinct",
            "field": "title",
            "alias": "titles",
            "distinct_field": "title",
        },
    ],
    "ObjectAggregationRequest.filters": {"status": "PENDING"},
    "ObjectAggregationRequest.having": [{"field": "n", "operator": "gte", "value": 1}],
    "ObjectAggregationRequest.unwind": "tags",
    "ObjectAggregationRequest.range_buckets": [
        {"field": "score", "boundaries": [0, 10], "default_bucket": "other"}
    ],
    "ObjectAggregationRequest.sort_by": "n",
    "ObjectAggregationRequest.limit": 10,
}
# Query parameter values: the contract names the parameters, not their types.
QUERY: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "force": lambda _: "true",
    "force_rebuild": lambda _: "true",
    "force_foreclose": lambda _: "false",
    "force_schema_break": lambda _: "false",
    "include_system": lambda _: "false",
    "view": lambda _: "full",
    "search": lambda _: BUCKET,
    "limit": lambda _: "1",
    "page_size": lambda _: "1",
    "offset": lambda _: "0",
    "page": lambda _: "1",
    "cursor": lambda c: c["cursor"],
    "next_cursor": lambda c: c["cursor"],
    "after": lambda c: c["cursor"],
    "include_total": lambda _: "true",
    "policy": lambda _: "upsert",
    "auto_process": lambda _: "false",
    "return_presigned_urls": lambda _: "true",
    "include_document_count": lambda _: "true",
    "async": lambda _: "false",
    "delete_s3_object": lambda _: "true",
}


def _route_of(operation: dict[str, Any]) -> tuple[str, str]:
    return operation["method"], operation["path"]


def _path(operation: dict[str, Any], context: Mapping[str, Any]) -> str:
    values = {
        "namespace_identifier": context["namespace_id"],
        "bucket_identifier": BUCKET,
        "object_identifier": context["object_id"],
        "upload_id": context["upload"]["upload_id"],
        "task_id": context.get("task_id", "task_none"),
    }
    return str(operation["path"]).format(**values)


async def _context(world: World, operation: dict[str, Any]) -> dict[str, Any]:
    context = dict(world.values)
    context["object_id"] = world.objects[0] if world.objects else "obj_none"
    context["upload"] = world.uploads[0] if world.uploads else {"upload_id": "upl_none"}
    context["uploads"] = world.uploads[1:]
    filterable = {"/v1/tasks": "task_type", "/v1/buckets/{bucket_identifier}/uploads": "filename"}
    context["filter_field"] = next(
        (name for prefix, name in filterable.items() if operation["path"].startswith(prefix)),
        "title",
    )
    if operation["sdk_call"] == "namespaces.delete_namespace":
        doomed = await world.ok("POST", "/v1/namespaces", {"namespace_name": "doomed-space"})
        context["namespace_id"] = doomed["namespace_id"]
    context["cursor"] = await _cursor(world, operation)
    return context


async def _cursor(world: World, operation: dict[str, Any]) -> str:
    """A next_cursor the same list answered (the cursor parameters need a real one)."""
    if "cursor" not in operation["query"]:
        return ""
    path = operation["path"].format(bucket_identifier=BUCKET)
    body: dict[str, Any] | None = {} if operation["method"] == "POST" else None
    status, page = await world.call(operation["method"], path, query={"limit": "1"}, body=body)
    assert status == 200, page
    cursor = page["pagination"]["next_cursor"]
    assert cursor, f"{operation['sdk_call']} found one page only: no cursor to send"
    return str(cursor)


def _full_request(
    operation: dict[str, Any], context: Mapping[str, Any]
) -> tuple[dict[str, str], Any]:
    query = {name: QUERY[name](context) for name in operation["query"]}
    query = {name: value for name, value in query.items() if value}
    if operation["request"] is None:
        return query, None
    values = Values(OVERRIDES, context)
    body = values.model(operation["request"])
    body = {key: value for key, value in body.items() if value is not None}
    if operation["request"] in OBJECT_BODIES | {"CreateObjectsBatchRequest"}:
        _user_fields(body, operation["request"])
    assert set(body) >= {
        name
        for name, spec in DEFS[operation["request"]]["properties"].items()
        if OVERRIDES.get(f"{operation['request']}.{name}", 0) is not None
    }
    return query, body


def _user_fields(body: dict[str, Any], model: str) -> None:
    """An object needs its unique key (title); a batch's items too."""
    if model == "CreateObjectsBatchRequest":
        for index, item in enumerate(body["objects"]):
            item["title"] = f"batch {index}"
            item["idempotency_key"] = f"batch-{index}"
    elif model == "CreateObjectRequest":
        body["title"] = "contract object"


def _check_answer(operation: dict[str, Any], status: int, answer: Any) -> None:
    assert 200 <= status < 300, (operation["sdk_call"], status, answer)
    response = operation["response"]
    if response == "None":
        assert status == 204 and answer is None
    elif response == "object":
        assert isinstance(answer, dict)
    else:
        errors = sorted(validator(response).iter_errors(answer), key=str)
        assert not errors, (operation["sdk_call"], [f"{e.json_path}: {e.message}" for e in errors])


IDS = [op["sdk_call"] for op in OPERATIONS]


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@pytest.mark.asyncio(loop_scope="module")
async def test_every_declared_field_is_accepted_and_the_answer_parses(
    service: Service, acme: Tenant, operation: dict[str, Any]
) -> None:
    world = await _world(service, acme, operation)
    context = await _context(world, operation)
    query, body = _full_request(operation, context)
    status, answer = await world.call(
        operation["method"], _path(operation, context), body=body, query=query
    )
    _check_answer(operation, status, answer)


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@pytest.mark.asyncio(loop_scope="module")
async def test_an_undeclared_key_is_refused_naming_it(
    service: Service, acme: Tenant, operation: dict[str, Any]
) -> None:
    world = await _world(service, acme, operation)
    context = await _context(world, operation)
    query, body = _full_request(operation, context)
    if body is None:
        query[UNDECLARED] = "1"
        where = ["query", UNDECLARED]
    else:
        body[UNDECLARED] = 1
        where = ["body", UNDECLARED]
    status, answer = await world.call(
        operation["method"], _path(operation, context), body=body, query=query
    )
    if operation["request"] in OBJECT_BODIES:
        _check_answer(operation, status, answer)
        assert answer[UNDECLARED] == 1  # a user field, answered at the root
        return
    assert status == 422, answer
    problems = answer["error"]["details"]["validation_errors"]
    assert [(p["type"], p["location"]) for p in problems] == [("extra_forbidden", where)]
    assert UNDECLARED in answer["error"]["message"]


@pytest.mark.parametrize("operation", OPERATIONS, ids=IDS)
@pytest.mark.asyncio(loop_scope="module")
async def test_a_plain_request_answers_in_the_models_shape(
    service: Service, acme: Tenant, operation: dict[str, Any]
) -> None:
    """The least a client sends (required fields only): lists hold items to check."""
    world = await _world(service, acme, operation)
    context = await _context(world, operation)
    body = None
    if operation["request"] is not None:
        values = Values(OVERRIDES, context)
        schema = DEFS[operation["request"]]
        full = values.model(operation["request"])
        body = {name: full[name] for name in schema.get("required", []) if name in full}
        if operation["request"] in OBJECT_BODIES | {"CreateObjectsBatchRequest"}:
            _user_fields(body, operation["request"])
    status, answer = await world.call(operation["method"], _path(operation, context), body=body)
    _check_answer(operation, status, answer)
    if operation["response"].startswith("List"):
        assert answer["results"], "the list found nothing to check"


def test_every_operation_is_served_or_listed_as_not_served() -> None:
    served = {(route.http_method, route.openapi_path) for route in routes_from()}
    not_served = {(method, path) for method, path, _ in NOT_SERVED}
    missing = [_route_of(op) for op in OPERATIONS if _route_of(op) not in served | not_served]
    assert not missing, f"neither served nor listed in docs/api.md's API table: {missing}"
    assert len(OPERATIONS) == 37


def test_the_contract_copy_is_the_reference() -> None:
    if REFERENCE_FILE.exists():
        assert CONTRACT_FILE.read_bytes() == REFERENCE_FILE.read_bytes(), (
            "tests/compat/mixpeek-contract.json differs from ../shared/reference: copy it again"
        )
    assert validator("TaskResponse").is_valid(
        {"task_id": "t", "task_type": "api_buckets_delete", "status": "PENDING", "inputs": ["x"]}
    )
    assert not validator("TaskResponse").is_valid(
        {"task_id": "t", "task_type": "delete_bucket", "status": "PENDING"}
    )
