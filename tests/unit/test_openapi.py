"""The OpenAPI document is generated from the descriptors, like the routes."""

from __future__ import annotations

from openapi_spec_validator import validate

from bucketd.gateway.openapi import openapi_document, served_document
from bucketd.gateway.routes import routes_from


def test_operations_reference_schemas_and_the_error_envelope() -> None:
    document = openapi_document(routes_from())
    assert document["openapi"] == "3.1.0"
    create = document["paths"]["/v1/buckets"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["bucket_name", "bucket_schema"]
    ok = create["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Bucket"}
    error = create["responses"]["default"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorResponse"}


def test_enums_use_the_reference_spelling() -> None:
    schemas = openapi_document(routes_from())["components"]["schemas"]
    status = schemas["Bucket"]["properties"]["status"]
    assert "ACTIVE" in status["enum"]
    assert schemas["Bucket"]["properties"]["object_count"] == {
        "type": "integer",
        "readOnly": True,
        "description": "Objects stored (computed when the bucket is read).",
    }
    field_type = schemas["BucketSchemaField"]["properties"]["type"]
    assert field_type["enum"][:2] == ["string", "number"]


def test_path_parameters_are_not_in_the_body_and_deletes_are_204() -> None:
    paths = openapi_document(routes_from())["paths"]
    create_object = paths["/v1/buckets/{bucket_identifier}/objects"]["post"]
    body = create_object["requestBody"]["content"]["application/json"]["schema"]
    assert "bucket_identifier" not in body["properties"]
    names = [p["name"] for p in create_object["parameters"] if p["in"] == "path"]
    assert names == ["bucket_identifier"]
    delete = paths["/v1/buckets/{bucket_identifier}/objects/{object_identifier}"]["delete"]
    assert "204" in delete["responses"]


def test_the_served_document_is_valid_openapi_3_1_hand_written_routes_included() -> None:
    document = served_document()
    validate(document)  # openapi-spec-validator: raises on the first problem
    upload = document["paths"]["/v1/buckets/{bucket_identifier}/objects/upload"]
    assert {p["name"] for p in upload["post"]["parameters"]} >= {"property", "sha256"}
    resource = document["paths"]["/v1/buckets/{bucket_identifier}/objects/upload/{session_id}"]
    assert set(resource) == {"head", "patch", "delete"}


def test_both_upload_protocols_are_documented_on_the_upload_routes() -> None:
    """The IETF draft's and tus 1.0's header fields, bodies and answers, each once; a header
    only one protocol sends is not required; the upload URL needs no key, nor does OPTIONS."""
    paths = served_document()["paths"]
    upload = paths["/v1/buckets/{bucket_identifier}/objects/upload"]
    assert set(upload) == {"post", "options"}
    post = upload["post"]
    names = [p["name"] for p in post["parameters"]]
    assert len(names) == len(set(names))
    assert {"Upload-Complete", "Tus-Resumable", "Upload-Metadata", "Upload-Length"} <= set(names)
    assert "application/offset+octet-stream" in post["requestBody"]["content"]
    assert {"201", "412", "413"} <= set(post["responses"])
    options = upload["options"]
    assert (
        options["security"] == [] and "Tus-Extension" in options["responses"]["204"]["description"]
    )
    patch = paths["/v1/buckets/{bucket_identifier}/objects/upload/{session_id}"]["patch"]
    required = {p["name"] for p in patch["parameters"] if p["required"]}
    assert required == {"bucket_identifier", "session_id", "Upload-Offset"}
    assert set(patch["requestBody"]["content"]) == {
        "application/partial-upload",
        "application/offset+octet-stream",
    }
    assert {"409", "412", "415", "460"} <= set(patch["responses"])
    assert "tus 1.0" in patch["responses"]["409"]["description"]
    assert patch["security"] == [{"apiKey": []}, {}]


def test_operation_ids_are_unique_and_every_operation_is_described() -> None:
    document = openapi_document(routes_from())
    operations = [op for path in document["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert "NamespaceService.ListNamespaces_get" in ids
    assert all(op["summary"] and op["description"] for op in operations)
    create = document["paths"]["/v1/buckets/{bucket_identifier}/objects"]["post"]
    assert create["summary"].startswith("Creates an object")
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    assert examples["reference"]["value"]["title"] == "Red sneaker"
    schemas = document["components"]["schemas"]
    described = [
        prop for schema in schemas.values() for prop in schema.get("properties", {}).values()
    ]
    assert sum("description" in prop for prop in described) >= 60


def test_the_api_key_is_a_security_scheme_and_x_namespace_a_documented_header() -> None:
    document = openapi_document(routes_from())
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert document["security"] == [{"apiKey": []}] and document["servers"]
    get_bucket = document["paths"]["/v1/buckets/{bucket_identifier}"]["get"]
    (header,) = [p for p in get_bucket["parameters"] if p["in"] == "header"]
    assert header["name"] == "X-Namespace" and header["required"] and header["description"]
    get_task = document["paths"]["/v1/tasks/{task_id}"]["get"]
    assert not [p for p in get_task["parameters"] if p["in"] == "header"]


def test_most_schema_properties_are_described() -> None:
    """A user browsing /docs reads what each field means (the protos' field comments)."""
    properties = [
        (name, prop, spec)
        for name, schema in served_document()["components"]["schemas"].items()
        for prop, spec in (schema.get("properties") or {}).items()
    ]
    undescribed = [
        f"{name}.{prop}" for name, prop, spec in properties if not spec.get("description")
    ]
    assert len(undescribed) <= 0.2 * len(properties), undescribed
