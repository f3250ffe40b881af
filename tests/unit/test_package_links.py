"""The folders linked into `bucketd/` are named the same four times: by the links themselves, the
package's docstring, ruff's exclusions (a link is linted as its folder) and ruff's banned bare
imports (a second name would load a module twice). A fifth folder, or a dropped one, must change
all four (#35)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import bucketd

ROOT = Path(__file__).resolve().parents[2]


def _links() -> set[str]:
    return {path.name for path in (ROOT / "bucketd").iterdir() if path.is_symlink()}


def test_every_link_points_at_the_top_level_folder_of_its_name() -> None:
    for name in _links():
        assert (ROOT / "bucketd" / name).resolve() == ROOT / name, name
    assert _links() == {"server", "gateway", "client", "standins"}


def test_the_docstring_names_every_link_and_its_folder() -> None:
    named = set(re.findall(r"`bucketd\.(\w+)` \((\w+)/", bucketd.__doc__ or ""))
    assert named == {(name, name) for name in _links()}


def test_the_lint_configuration_names_every_link() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ruff = pyproject["tool"]["ruff"]
    excluded = {path.removeprefix("bucketd/") for path in ruff["extend-exclude"]}
    assert _links() <= excluded, "ruff must lint each link as its folder, not twice"
    assert excluded & {p.name for p in (ROOT / "bucketd").iterdir()} == _links() | {"v1"}
    banned = set(ruff["lint"]["flake8-tidy-imports"]["banned-api"])
    assert banned == _links()
