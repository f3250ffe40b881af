"""Numbers out of a google.protobuf.Struct: all doubles, so 5 arrives as 5.0.

A client that sent (and expects back) an integer gets one: whole doubles within 2**53 become
ints. Shared by the server (JSON it stores) and the gateway (JSON it answers).
"""

from __future__ import annotations

from typing import Any


def whole_numbers(value: Any) -> Any:
    """7.0 -> 7, recursively through lists and objects."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value
