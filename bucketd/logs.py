"""Logging for the server and the gateway: one logger tree ("bucketd"), text or JSON lines.

Each line carries its fields as `extra` values; the text format appends them as `key=value`,
the JSON format (python-json-logger) writes them as keys. The request id of the call being
served is in a context variable, so that every line logged on its behalf carries it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID = 128
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# LogRecord's own attributes: everything else on a record is a field given with `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted_request_id(value: str | None) -> str:
    """The caller's id when it is a sane one (printable ASCII, short), else a new one."""
    if value and len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable():
        return value
    return new_request_id()


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """`time level logger message key=value …`, the fields in the order they were given. A
    caller's text (a path, a name) may hold control characters: they are escaped, in the
    message and in the fields, so that no value can start a forged line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        original = record.message
        record.message = escaped(original)
        try:
            return super().formatMessage(record)
        finally:
            record.message = original

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}
        return line + "".join(f" {key}={_text(value)}" for key, value in fields.items())


def escaped(text: str) -> str:
    """`text` with every control character (a line break, a tab, an escape) written as \\xNN."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _text(value: Any) -> str:
    text = str(value)
    quoted = not text or not text.isprintable() or any(c in text for c in ' "=')
    return json.dumps(text) if quoted else text


def configure(*, log_format: str, level: str) -> None:
    """Send the bucketd (and every other) logger's lines to stderr in `log_format`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestId())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
