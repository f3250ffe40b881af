"""Checksums as the public docs spell them: `algorithm:hash`. SHA-256 is the one algorithm.

Blobs are stored with their bare hex SHA-256; every answer labels it (`sha256:<hex>`), and a
caller's checksum may come labelled or bare.
"""

from __future__ import annotations

import re
from typing import Any

from bucketd.server.errors import InvalidArgument

ALGORITHM = "sha256"
_HEX = re.compile(r"^[0-9a-f]{64}$")


def labelled(sha256: str | None) -> str:
    """`sha256:<hex>` for a stored hex digest ("" when there is none, as for a URL reference)."""
    return f"{ALGORITHM}:{sha256}" if sha256 else ""


def stored(value: Any) -> Any:
    """A labelled hash as stored (bare hex); other values unchanged, for filters."""
    if isinstance(value, str) and value.lower().startswith(f"{ALGORITHM}:"):
        return value[len(ALGORITHM) + 1 :].lower()
    return value


def parse_checksum(where: str, value: str) -> str:
    """The hex SHA-256 a caller's `checksum` promises; 422 naming the accepted forms."""
    algorithm, _, digest = value.strip().rpartition(":")
    digest = digest.lower()
    if algorithm.lower() not in {"", ALGORITHM} or not _HEX.fullmatch(digest):
        raise InvalidArgument(
            f"{where}: {value[:80]!r} is not a checksum; give sha256:<64 hex characters> "
            "(or the 64 hex characters alone)",
            details={"field": where},
        )
    return digest


def check_sha256(where: str, actual: str, expected: str) -> None:
    """The one comparison of a blob's bytes with the SHA-256 its caller promised (both bare hex,
    as parse_checksum gives it); the answer spells both as every answer does."""
    if actual != expected:
        raise InvalidArgument(
            f"{where}: the bytes' SHA-256 is {labelled(actual)}, not {labelled(expected)}; "
            "nothing was kept",
            details={"field": where},
        )
