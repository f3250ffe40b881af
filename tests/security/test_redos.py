"""Issue 39: the regex guard (server/domain/regex_guard.py) against an independent ReDoS checker,
recheck (npm): every generated pattern that bucketd accepts, recheck calls safe; the patterns the
audit ran to the query time limit are refused, and recheck calls them vulnerable."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bucketd.server.domain.regex_guard import bounded_regex
from bucketd.server.errors import InvalidArgument

ROOT = pathlib.Path(__file__).parents[2]
SCRIPT = pathlib.Path(__file__).with_name("recheck.js")
# What the audit found running for 10 s (issue 39), and the classic shapes.
AUDITED = [
    "(.|a)+b",
    "^([^b]|a)+b$",
    "^a*a*a*a*a*a*a*a*a*a*a*a*b",
    "\\w*" * 10 + "!!",
    "^(a+)+$",
    "(a|aa)+$",
    "^(\\w+\\s?)*$",
    "\\s+$",
    "^.*a.*$",
]
ATOMS = ["a", "b", "A", "x", ".", "\\d", "\\w", "\\s", "\\W", "[ab]", "[^a]", "[a-z]", "\\.", "!"]
COUNTS = ["", "", "", "", "*", "+", "?", "{2}", "{1,3}", "{0,5}", "{2,}", "*?"]
PIECE = st.builds(lambda atom, count: atom + count, st.sampled_from(ATOMS), st.sampled_from(COUNTS))
GROUP = st.builds(
    lambda branches, count: "(" + "|".join(branches) + ")" + count,
    st.lists(st.lists(PIECE, min_size=1, max_size=3).map("".join), min_size=1, max_size=3),
    st.sampled_from(["", "", "", "?", "+", "*"]),
)
PATTERN = st.builds(
    lambda start, body, end: start + "".join(body) + end,
    st.sampled_from(["", "^", "^", "^"]),
    st.lists(st.one_of(PIECE, PIECE, PIECE, GROUP), min_size=1, max_size=5),
    st.sampled_from(["", "$"]),
)


def _accepted(pattern: str) -> bool:
    try:
        bounded_regex(pattern)
    except InvalidArgument:
        return False
    return True


def _recheck(patterns: list[str]) -> dict[str, str]:
    """recheck's status (safe, vulnerable, unknown) of each pattern, in one run of node."""
    node = shutil.which("node")
    assert node is not None and (ROOT / "node_modules" / "recheck").is_dir(), "run make setup"
    ran = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(patterns),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return {source: status for source, status, _ in json.loads(ran.stdout)}


@pytest.mark.parametrize("pattern", AUDITED)
def test_what_the_audit_ran_for_10_s_is_refused(pattern: str) -> None:
    assert not _accepted(pattern)


def test_the_checker_calls_the_audited_patterns_vulnerable() -> None:
    """The checker is not a rubber stamp: what the guard refuses above, it finds too."""
    verdicts = _recheck(AUDITED)
    assert set(verdicts.values()) == {"vulnerable"}, verdicts


def _generated(count: int) -> list[str]:
    """`count` patterns that hypothesis generates (fixed seed) from the grammar above."""
    found: set[str] = set()

    @settings(max_examples=count, derandomize=True, deadline=None, database=None)
    @given(pattern=PATTERN)
    def collect(pattern: str) -> None:
        found.add(pattern)

    collect()
    return sorted(found)


def test_every_generated_pattern_the_guard_accepts_the_checker_calls_safe() -> None:
    accepted = [pattern for pattern in _generated(300) if _accepted(pattern)]
    assert len(accepted) >= 50, accepted  # enough accepted patterns to mean something
    verdicts = _recheck(accepted)
    unsafe = {pattern: status for pattern, status in verdicts.items() if status != "safe"}
    assert not unsafe, unsafe
