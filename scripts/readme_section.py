"""A generated section of the docs: the text between two marker lines (`make docs`)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"  # the API status table
CONFIG_DOC = ROOT / "docs" / "operating.md"  # the settings table


def with_section(readme: str, begin: str, end: str, body: str) -> str:
    """`readme` with `body` between the `begin` and `end` marker lines."""
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    if not rest:
        sys.exit(f"the document has no line {begin.strip()!r}")
    return head + begin + body + end + tail
