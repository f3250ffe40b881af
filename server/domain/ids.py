"""Prefixed random identifiers (`ns_`, `bkt_`, `obj_`, …), as the reference spells them."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 16) -> str:
    """`prefix` + `length` random base-36 characters (16 chars: ~82 bits)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))
