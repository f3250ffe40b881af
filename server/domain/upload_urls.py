"""An upload session's URL is a capability (issue #36; like a GCS resumable session URI): it
carries a secret that lets whoever holds it append to, read the offset of, or cancel that one
session without an API key, until the session completes, is cancelled or expires. Only the
secret's SHA-256 is kept; it is compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 24  # 192 bits, at least the 128 the issue asks for


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant time; a session that kept no hash (made before #36) matches no secret."""
    return bool(stored_hash) and hmac.compare_digest(secret_hash(secret), stored_hash)
