"""A bounded property-based fuzz run over the OpenAPI document (schemathesis, fixed seed).

Every operation of the document gets generated requests — valid and invalid bodies, query and
path values — sent with a real key to a real `bucketd serve`. Each answer must be below 500, in
the envelope when it is an error, and conform to the document (status, headers, body schema).
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bucketd.server.settings import Settings
from tests.faults.processes import bucketd, environment, issue_key, rest

# The resumable upload's PATCH body: raw bytes, as an interrupted file's tail would be.
schemathesis.openapi.media_type("application/partial-upload", st.binary(max_size=256))
TALLY: Counter[str] = Counter()
# What must hold for every answer. (Whether a schema-valid request is accepted is left out: the
# document cannot say every rule — that a blob's property names a field of the bucket schema.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(mongodb_uri: str, s3_endpoint_url: str) -> Iterator[tuple[str, str]]:
    """One `bucketd serve` for the whole run, with a key, a namespace and a bucket."""
    fuzz = Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database="bucketd_fuzz",
        s3_endpoint_url=s3_endpoint_url,
        s3_bucket="bucketd-fuzz",
    )
    env = environment(fuzz)
    key = issue_key(env, "fuzz")
    with bucketd(env) as process:
        rest(process.rest, "POST", "/v1/namespaces", key, {"namespace_name": "default"})
        schema = {"properties": {"doc": {"type": "text"}, "title": {"type": "string"}}}
        rest(
            process.rest, "POST", "/v1/buckets", key, {"bucket_name": "b", "bucket_schema": schema}
        )
        yield process.rest, key
    print(f"\nfuzz: {sum(TALLY.values())} requests, by status class: {dict(sorted(TALLY.items()))}")


def _document(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=10) as reply:
        document: dict[str, Any] = json.loads(reply.read())
    return document


def test_no_5xx_and_every_answer_conforms(server: tuple[str, str]) -> None:
    url, key = server
    headers = {"Authorization": f"Bearer {key}", "X-Namespace": "default"}
    api = schemathesis.openapi.from_dict(_document(url))
    operations = [result.ok() for result in api.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 25

    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            derandomize=True,  # the same requests on every run
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)
            TALLY[f"{response.status_code // 100}xx"] += 1

        try:
            check()
        except Exception as error:  # every operation gets its run; all failures are reported
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
            TALLY["failed"] += 1
    assert not failures, "\n\n".join(failures)
