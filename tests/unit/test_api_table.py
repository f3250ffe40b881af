"""docs/api.md's API status table is the one scripts/api_table.py generates from the protos."""

from __future__ import annotations

from bucketd.gateway.routes import routes_from
from scripts.api_table import NOTES, table, with_table
from scripts.readme_section import API_DOC


def test_the_readme_table_is_current() -> None:
    text = API_DOC.read_text()
    assert with_table(text) == text, "the API table drifted: run `make docs` and commit"
    assert table() in text


def test_every_note_names_a_served_route() -> None:
    served = {(route.http_method, route.openapi_path) for route in routes_from()}
    assert set(NOTES) <= served
