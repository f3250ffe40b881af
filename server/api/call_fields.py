"""What the log line of the call being served says about it, gathered while it runs.

The observing interceptor opens the record; authentication, namespace resolution and the
stream reader fill it in; the interceptor logs it when the call ends.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class CallFields:
    organization_id: str | None = None
    namespace_id: str | None = None
    bytes_in: int = 0


_CURRENT: ContextVar[CallFields | None] = ContextVar("bucketd_call_fields", default=None)


def open_call() -> CallFields:
    fields = CallFields()
    _CURRENT.set(fields)
    return fields


def note_caller(organization_id: str) -> None:
    if (fields := _CURRENT.get()) is not None:
        fields.organization_id = organization_id


def note_namespace(namespace_id: str) -> None:
    if (fields := _CURRENT.get()) is not None:
        fields.namespace_id = namespace_id


def note_bytes_in(count: int) -> None:
    if (fields := _CURRENT.get()) is not None:
        fields.bytes_in += count
