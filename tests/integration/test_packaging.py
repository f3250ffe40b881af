"""The wheel installs one import package, `bucketd`, with server/, gateway/, client/, standins/.

Built the way `pip install .` builds it (PEP 517, isolated), then read as a zip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_claims_only_the_bucketd_name(tmp_path: Path) -> None:
    source = tmp_path / "source"  # setuptools builds in the tree it is given: not in ours
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "node_modules", "build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("bucketd-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [name for name in names if name.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["bucketd"]
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "bucketd = bucketd.cli:main" in archive.read(entry_points).decode()
    packages = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert packages == {"bucketd"}
    for module in (
        "bucketd/py.typed",
        "bucketd/server/app.py",
        "bucketd/gateway/app.py",
        "bucketd/client/cli.py",
        "bucketd/client/py.typed",
        "bucketd/standins/launch.py",
        "bucketd/v1/objects_pb2.pyi",
    ):
        assert module in names, module
