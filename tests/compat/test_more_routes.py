"""Issue 13, the routes the public docs added: aggregate, bulk-soft-delete, namespace stats (one
and a batch) and ensure-indexes."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import PDF, PNG, call, create, make_bucket
from tests.shared_service import shared_service

# One bucketd for the module's tests, each with organizations of its own (tests/shared_service.py).
pytestmark = pytest.mark.asyncio(loop_scope="module")
settings, service, acme, globex = shared_service()

AGGREGATE = "/v1/buckets/things/objects/aggregate"


async def _objects(service: Service, tenant: Tenant) -> list[dict[str, Any]]:
    await make_bucket(service, tenant)
    png = {"property": "image", "type": "image", "data": {"base64": base64.b64encode(PNG).decode()}}
    pdf = {"property": "doc", "type": "pdf", "data": {"base64": base64.b64encode(PDF).decode()}}
    made = []
    for title, count, tags, blobs in (
        ("red", 1, ["a", "b"], [png]),
        ("red", 5, ["a"], [png, pdf]),
        ("blue", 12, ["b"], [pdf]),
    ):
        status, created = await create(
            service, tenant, {"title": title, "count": count, "tags": tags, "blobs": blobs}
        )
        assert status == 200, created
        made.append(created)
    return made


async def test_aggregate_groups_objects_with_the_documented_functions(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await _objects(service, acme)
    body: dict[str, Any] = {
        "group_by": [{"field": "title"}],
        "aggregations": [
            {"function": "count", "alias": "n"},
            {"function": "sum", "field": "count", "alias": "total"},
            {"function": "avg", "field": "metadata.count", "alias": "mean"},
            {"function": "count_distinct", "field": "count", "alias": "distinct"},
            {"function": "add_to_set", "field": "status", "alias": "statuses"},
        ],
        "sort_by": "total",
        "sort_direction": "desc",
    }
    status, reply = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 200, reply
    assert reply["total_groups"] == 2
    assert reply["results"] == [
        {
            "group": {"title": "blue"},
            "metrics": {"n": 1, "total": 12, "mean": 12, "distinct": 1, "statuses": ["PENDING"]},
        },
        {
            "group": {"title": "red"},
            "metrics": {"n": 2, "total": 6, "mean": 3, "distinct": 2, "statuses": ["PENDING"]},
        },
    ]
    # having, a filter, unwinding an array, range buckets and a date part
    body = {
        "group_by": [{"field": "tags", "alias": "tag"}],
        "aggregations": [{"function": "count", "alias": "n"}],
        "unwind": "tags",
        "filters": {"title": "red"},
        "having": [{"field": "n", "operator": "gte", "value": 2}],
    }
    _, tags = await call(service, "POST", AGGREGATE, acme, body)
    assert tags["results"] == [{"group": {"tag": "a"}, "metrics": {"n": 2}}]
    body = {
        "group_by": [
            {"field": "count", "alias": "size"},
            {"field": "created_at", "alias": "y", "date_part": "year"},
        ],
        "aggregations": [{"function": "count", "alias": "n"}],
        "range_buckets": [{"field": "count", "boundaries": [0, 5, 10]}],
        "sort_by": "size",
        "sort_direction": "asc",
    }
    status, ranged = await call(service, "POST", AGGREGATE, acme, body)
    assert status == 200, ranged
    assert [(r["group"]["size"], r["metrics"]["n"]) for r in ranged["results"]] == [
        ("0-5", 1),
        ("5-10", 1),
        ("other", 1),
    ]
    body = {
        "group_by": [{"field": "blobs.type", "alias": "kind"}],
        "aggregations": [{"function": "count", "alias": "n"}],
        "unwind": "blobs",
        "sort_by": "kind",
        "sort_direction": "asc",
    }
    _, kinds = await call(service, "POST", AGGREGATE, acme, body)
    assert [(r["group"]["kind"], r["metrics"]["n"]) for r in kinds["results"]] == [
        ("image", 2),
        ("pdf", 2),
    ]
    # another organization's bucket of the same name holds nothing of acme's
    await make_bucket(service, globex)
    _, theirs = await call(
        service,
        "POST",
        AGGREGATE,
        globex,
        {"group_by": [{"field": "title"}], "aggregations": [{"function": "count", "alias": "n"}]},
    )
    assert theirs["results"] == [] and theirs["total_groups"] == 0


async def test_aggregate_refuses_what_the_docs_do_not_allow(service: Service, acme: Tenant) -> None:
    await make_bucket(service, acme)
    count = [{"function": "count", "alias": "n"}]
    for body, field in (
        ({"group_by": [{"field": "$where"}], "aggregations": count}, "group_by[0].field"),
        (
            {
                "group_by": [{"field": "title"}],
                "aggregations": [{"function": "$function", "alias": "n"}],
            },
            "aggregations[0].function",
        ),
        (
            {
                "group_by": [{"field": "title"}],
                "aggregations": [{"function": "count", "alias": "$n"}],
            },
            "aggregations[0].alias",
        ),
        (
            {
                "group_by": [{"field": "title"}],
                "aggregations": count,
                "having": [{"field": "n", "operator": "where", "value": 1}],
            },
            "having[0].operator",
        ),
        (
            {
                "group_by": [{"field": "title"}],
                "aggregations": count,
                "having": [{"field": "n", "operator": "gt", "value": {"$gt": 1}}],
            },
            "having[0].value",
        ),
        (
            {"group_by": [{"field": "title", "date_trunc": "month"}], "aggregations": count},
            "group_by[0].field",
        ),
        ({"group_by": [], "aggregations": count}, "group_by"),
        (
            {"group_by": [{"field": "title"}], "aggregations": count, "filters": {"$where": "1"}},
            "filters.$where",
        ),
    ):
        status, reply = await call(service, "POST", AGGREGATE, acme, body)
        assert status == 422, (body, reply)
        assert reply["error"]["details"]["field"] == field, reply


async def test_bulk_soft_delete_hides_objects_and_keeps_them(
    service: Service, acme: Tenant
) -> None:
    made = await _objects(service, acme)
    ids = [made[0]["object_id"], made[1]["object_id"], "obj_notinthebucket"]
    body = {"object_ids": ids, "reason": "cleanup"}
    status, reply = await call(
        service, "POST", "/v1/buckets/things/objects/bulk-soft-delete", acme, body
    )
    assert status == 200, reply
    assert (reply["soft_deleted"], reply["requested"]) == (2, 3)
    assert (await call(service, "GET", f"/v1/buckets/things/objects/{ids[0]}", acme))[0] == 404
    _, listed = await call(service, "GET", "/v1/buckets/things/objects", acme)
    assert [o["object_id"] for o in listed["results"]] == [made[2]["object_id"]]
    assert listed["stats"]["total_objects"] == 1
    _, bucket = await call(service, "GET", "/v1/buckets/things", acme)
    assert bucket["object_count"] == 1
    status, reply = await call(
        service, "POST", "/v1/buckets/things/objects/bulk-soft-delete", acme, body
    )
    assert reply["soft_deleted"] == 0  # already hidden
    status, reply = await call(
        service, "POST", "/v1/buckets/things/objects/bulk-soft-delete", acme, {"object_ids": []}
    )
    assert status == 422 and reply["error"]["details"]["field"] == "object_ids"


async def test_namespace_stats_one_and_in_a_batch(
    service: Service, acme: Tenant, globex: Tenant
) -> None:
    await _objects(service, acme)
    _, namespace = await call(service, "GET", "/v1/namespaces/default", acme)
    namespace_id = namespace["namespace_id"]
    status, stats = await call(service, "GET", "/v1/namespaces/default/stats", acme)
    assert status == 200
    assert stats == {
        "namespace_id": namespace_id,
        "document_count": 0,
        "document_count_complete": True,
        "bucket_count": 1,
        "collection_count": 0,
        "object_count": 3,
    }
    body = {"namespace_ids": [namespace_id, "ns_missing00000000"]}
    status, batch = await call(service, "POST", "/v1/namespaces/stats/batch", acme, body)
    assert status == 200 and list(batch["stats"]) == [namespace_id]
    _, foreign = await call(service, "POST", "/v1/namespaces/stats/batch", globex, body)
    assert foreign["stats"] == {}
    assert (await call(service, "GET", f"/v1/namespaces/{namespace_id}/stats", globex))[0] == 404


async def test_ensure_indexes_answers_the_collections_not_their_indexes(
    service: Service, acme: Tenant
) -> None:
    status, reply = await call(service, "POST", "/v1/namespaces/default/ensure-indexes", acme)
    assert status == 200, reply
    assert {"objects", "tasks", "uploads"} <= set(reply["ensured"])
    assert not [name for name in reply["ensured"] if "." in name or "_1" in name]  # no index
    assert reply["rebuilt"] == [] and reply["skipped"] == []
    status, refused = await call(
        service, "POST", "/v1/namespaces/default/ensure-indexes", acme, {"anything": 1}
    )
    assert status == 422 and "takes no body" in refused["error"]["message"]
    _, forced = await call(
        service, "POST", "/v1/namespaces/default/ensure-indexes?force_rebuild=true", acme
    )
    assert forced["skipped"] == forced["ensured"]
