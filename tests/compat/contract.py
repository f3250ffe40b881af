"""The public client's models (mixpeek-contract.json) as a test input: operations, and values.

The file is `../shared/reference/mixpeek-contract.json`, copied whole (test_contract.py checks
the copy is current when the reference sits beside the checkout). It holds, per operation, the
JSON Schema of the request body the public Python client sends and of the 2xx body it parses.

That client's anyOf wrappers (`Data`, `Value`, `AndInner`, … — Pydantic models with
`anyof_schema_N_validator` and `actual_instance` properties) travel as the value they wrap, so
they are rewritten to a plain `anyOf` of those branches: the schemas then describe the wire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema

CONTRACT_FILE = Path(__file__).with_name("mixpeek-contract.json")
REFERENCE_FILE = Path(__file__).resolve().parents[3] / "shared/reference/mixpeek-contract.json"
CONTRACT: dict[str, Any] = json.loads(CONTRACT_FILE.read_text())
OPERATIONS: list[dict[str, Any]] = CONTRACT["operations"]
MAX_DEPTH = 4  # deeper than this, objects get their required properties only (schemas recurse)


def _wire(schema: dict[str, Any]) -> dict[str, Any]:
    """An anyOf wrapper model rewritten to the anyOf it wraps; other schemas as they are."""
    properties = schema.get("properties", {})
    if "actual_instance" not in properties:
        return schema
    branches = [
        branch
        for name, spec in properties.items()
        if name.startswith("anyof_schema_")
        for branch in spec.get("anyOf", [spec])
        if branch.get("type") != "null"
    ]
    return {"anyOf": branches, "description": schema.get("description", "")}


DEFS: dict[str, Any] = {name: _wire(schema) for name, schema in CONTRACT["$defs"].items()}


def validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator of the def `name`, with date-time formats checked."""
    schema = {"$ref": f"#/$defs/{name}", "$defs": DEFS}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Override = Any | Callable[[Mapping[str, Any]], Any]


class Values:
    """A schema-valid value for every property of a request model, recursively: the property's
    default when it has one (what the public client sends), else the first non-null branch.
    `overrides` ("Model.property" -> value, or a function of the context) give the values
    bucketd's own rules need (a bucket schema that exists, a checksum that matches)."""

    def __init__(self, overrides: Mapping[str, Override], context: Mapping[str, Any]) -> None:
        self._overrides = overrides
        self._context = context

    def model(self, name: str, depth: int = 0) -> Any:
        return self.of(DEFS[name], depth, name)

    def of(self, schema: dict[str, Any], depth: int = 0, model: str = "") -> Any:
        if "$ref" in schema:
            return self.model(schema["$ref"].split("/")[-1], depth)
        if "anyOf" in schema:
            branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
            return self.of(branches[0], depth) if branches else None
        if "enum" in schema:
            return schema.get("default") or schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            return self._object(schema, depth, model)
        if kind == "array":
            return [self.of(schema.get("items", {"type": "string"}), depth + 1)]
        return _scalar(schema)

    def _object(self, schema: dict[str, Any], depth: int, model: str) -> dict[str, Any]:
        properties = schema.get("properties")
        if properties is None:
            extra = schema.get("additionalProperties")
            return {"key": self.of(extra, depth + 1)} if isinstance(extra, dict) else {"key": "v"}
        required = set(schema.get("required", []))
        value: dict[str, Any] = {}
        for name, spec in properties.items():
            if depth >= MAX_DEPTH and name not in required:
                continue
            override = self._overrides.get(f"{model}.{name}", _NONE)
            if override is not _NONE:
                value[name] = override(self._context) if callable(override) else override
            elif spec.get("default") is not None:
                value[name] = spec["default"]
            else:
                value[name] = self.of(spec, depth + 1)
        return value


_NONE = object()


def _scalar(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return False
    if kind in {"integer", "number"}:
        low = schema.get("minimum", 1)
        return max(low, 1) if "maximum" not in schema else min(max(low, 1), schema["maximum"])
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    return "s" * max(schema.get("minLength", 6), 6) if kind == "string" else "sample"
