"""API keys: `sk_live_…` / `sk_test_…` with 190 bits of randomness; only a digest is stored."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

LIVE_PREFIX = "sk_live_"
TEST_PREFIX = "sk_test_"
_SECRET_LENGTH = 32  # base-62 characters: 32 * log2(62) ~ 190 bits
_ALPHABET = string.ascii_letters + string.digits
_WELL_FORMED = re.compile(r"^sk_(live|test)_[A-Za-z0-9]{32}$")
DISPLAY_PREFIX_LENGTH = 12  # "sk_live_AbCd": enough to recognise a key, useless to guess it


def generate_key(*, test: bool) -> str:
    """A new plaintext key; shown once, never stored."""
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    return (TEST_PREFIX if test else LIVE_PREFIX) + secret


def is_well_formed(key: str) -> bool:
    return _WELL_FORMED.fullmatch(key) is not None


def is_test_key(key: str) -> bool:
    return key.startswith(TEST_PREFIX)


def key_digest(key: str) -> str:
    """SHA-256 hex of the key: what the api_keys collection stores and looks up."""
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, or None when it is not one."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
