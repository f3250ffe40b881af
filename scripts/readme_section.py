"""A generated section of the README: the text between two marker lines (`make docs`)."""

from __future__ import annotations

import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def with_section(readme: str, begin: str, end: str, body: str) -> str:
    """`readme` with `body` between the `begin` and `end` marker lines."""
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    if not rest:
        sys.exit(f"README.md has no line {begin.strip()!r}")
    return head + begin + body + end + tail
