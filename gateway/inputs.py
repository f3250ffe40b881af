"""What a request carries, read defensively: its JSON body, its forwarded headers, its timeout.

- The body: a declared Content-Length above the limit is refused before a byte is read; the
  bytes must keep arriving, fast enough (gateway/pace.py); the JSON may not hold NaN or
  Infinity, integers beyond 64 bits, or nest deeper than MAX_JSON_DEPTH.
- Forwarded headers must be printable ASCII and short: gRPC metadata is ASCII, and an over-long
  value would otherwise meet gRPC's metadata limit as an unrelated error.
- X-Request-Timeout must be a finite, positive number of seconds.
Each refusal is an error in the envelope that says what to change.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bucketd import logs
from bucketd.codec import InvalidField, MarshalError
from bucketd.gateway.access import REQUEST_ID
from bucketd.gateway.pace import BodyPace
from bucketd.gateway.settings import GatewaySettings

TIMEOUT_HEADER = "X-Request-Timeout"
MIN_TIMEOUT_SECONDS = 0.001  # shorter than a millisecond is no deadline a call can meet
# Header -> longest value forwarded (API keys are 40 characters, namespace names 64).
FORWARDED_HEADERS = {"authorization": 512, "x-namespace": 256}
_INT64 = 2**63
MAX_JSON_DEPTH = 32  # the server refuses deeper JSON from gRPC callers too


class BodyTooLarge(MarshalError):
    """The declared or received body exceeds the route's limit."""

    status = 413


def _no_constants(name: str) -> None:
    raise InvalidField(f"the JSON body holds {name}: NaN and Infinity are not JSON numbers")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(value := int(text)) >= _INT64:
        raise InvalidField(f"the JSON body holds the integer {text[:24]}…: integers are 64-bit")
    return value


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidField(f"the JSON body nests more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidField("the JSON body holds a number too large for a 64-bit float")


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object from the body; 400 for what is not JSON, 422 for JSON we cannot take."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constants, parse_int=_bounded_int)
    except RecursionError:
        raise InvalidField(f"the JSON body nests more than {MAX_JSON_DEPTH} levels deep") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MarshalError(f"Malformed JSON body: {error}") from None
    if not isinstance(data, dict):
        raise MarshalError("The JSON body must be an object")
    _check_depth(data)
    return data


JSON_LIMIT_HINT = (
    " (BUCKETD_HTTP_MAX_BODY_BYTES): send large files to the streaming route, "
    "POST /v1/buckets/{bucket}/objects/upload, or through a presigned upload"
)


def check_declared_size(request: web.Request, limit: int, hint: str = "") -> None:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(
            f"Request body of {request.content_length} bytes exceeds the limit of {limit} "
            f"bytes{hint}"
        )


async def read_json(request: web.Request, settings: GatewaySettings) -> dict[str, Any]:
    limit = settings.http_max_body_bytes
    check_declared_size(request, limit, JSON_LIMIT_HINT)
    chunks: list[bytes] = []
    size = 0
    async for chunk in BodyPace(settings).chunks(request.content.readany):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Request body exceeds the limit of {limit} bytes{JSON_LIMIT_HINT}")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def forwarded_metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The allow-listed headers as gRPC metadata, checked: never the whole request; and the
    request id (gateway/access.py), so that the server's log line carries it."""
    forwarded = []
    if REQUEST_ID in request:
        forwarded.append((logs.REQUEST_ID_HEADER, request[REQUEST_ID]))
    for name, longest in FORWARDED_HEADERS.items():
        value = request.headers.get(name)
        if value is None:
            continue
        if not value.isascii() or not value.isprintable():
            raise MarshalError(f"the {name.title()} header must be printable ASCII")
        if len(value) > longest:
            raise MarshalError(f"the {name.title()} header is at most {longest} characters")
        forwarded.append((name, value))
    return tuple(forwarded)


@dataclass(frozen=True)
class Call:
    """How every route calls the server: the forwarded headers as metadata, and the deadline."""

    metadata: tuple[tuple[str, str], ...]
    timeout: float | None

    @classmethod
    def of(cls, request: web.Request, settings: GatewaySettings, *, stream: bool = False) -> Call:
        """A unary call gets BUCKETD_GATEWAY_TIMEOUT_SECONDS (or less, X-Request-Timeout); a
        stream as long as its body takes, unless X-Request-Timeout asks for less (the body's
        idle timeout guards a stalled one)."""
        limit = None if stream else settings.gateway_timeout_seconds
        return cls(forwarded_metadata(request), request_timeout(request, limit))


def request_timeout(request: web.Request, limit: float | None) -> float | None:
    """The gRPC deadline: X-Request-Timeout, capped by `limit` (None: no cap)."""
    raw = request.headers.get(TIMEOUT_HEADER)
    if raw is None:
        return limit
    try:
        requested = float(raw)
    except ValueError:
        raise MarshalError(f"{TIMEOUT_HEADER} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(requested) or requested < MIN_TIMEOUT_SECONDS:
        raise MarshalError(
            f"{TIMEOUT_HEADER} must be a number of seconds, at least {MIN_TIMEOUT_SECONDS}; "
            f"got {raw[:32]}"
        )
    return requested if limit is None else min(requested, limit)
