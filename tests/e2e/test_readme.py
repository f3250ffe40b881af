"""The README and docs/ work: every `sh` and `python` block of them runs, in order (the README's
quick start first, then each guide that has commands), against `bucketd serve`.

The blocks run as one bash script (as a user pastes them into one terminal), from a directory
laid out like the checkout (examples/, and .venv/ linked), with three substitutions: the
placeholder key becomes the key the server printed, and the default ports become the free ones
the server took. `curl` fails on an HTTP error (and shows the body). A block the test cannot run
is preceded by `<!-- README test: not run (why) -->`. The quick start leaves nothing behind in
the checkout: the test fails if the directory it ran in holds new files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bucketd.server.domain import keys
from tests.e2e.child_env import child_env

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Where commands are, in the order a reader follows them (the guides continue the quick start).
DOCUMENTS = [README, ROOT / "docs" / "api.md", ROOT / "docs" / "operating.md",
             ROOT / "docs" / "other-languages.md"]  # fmt: skip
NOT_RUN = re.compile(r"<!-- README test: not run \((?P<why>.+)\) -->")
FENCE = re.compile(r"^```(?P<info>\S*)\s*$")
PLACEHOLDER_KEY = "sk_test_..."
SCRIPT_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    language: str
    text: str
    not_run_because: str | None


def readme_blocks() -> list[Block]:
    return [block for document in DOCUMENTS for block in blocks_of(document)]


def blocks_of(document: Path) -> list[Block]:
    lines = document.read_text().splitlines()
    name = str(document.relative_to(ROOT))
    blocks, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
        marker = NOT_RUN.search(previous)
        text = "\n".join(lines[index + 1 : end])
        why = marker["why"] if marker else None
        blocks.append(Block(name, index + 1, fence["info"], text, why))
        index = end + 1
    return blocks


def runnable() -> list[Block]:
    return [b for b in readme_blocks() if b.language in {"sh", "python"} and not b.not_run_because]


def test_blocks_not_run_say_why_and_are_few() -> None:
    skipped = [b for b in readme_blocks() if b.language == "sh" and b.not_run_because]
    assert all(len(b.not_run_because or "") > 10 for b in skipped)
    assert len(skipped) <= 6, [b.line for b in skipped]
    assert len(runnable()) >= 8, "the quick start's blocks went missing"
    markers = sum(document.read_text().count("<!-- README test") for document in DOCUMENTS)
    assert markers == len(skipped), "a 'not run' marker that does not precede a sh block"


@dataclass(frozen=True)
class Served:
    grpc: str
    rest: str
    key: str
    mongodb_uri: str


@pytest.fixture
def served() -> Iterator[Served]:
    key = keys.generate_key(test=True)
    env = child_env(BUCKETD_DEV_API_KEY=key)
    command = [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            printed = [process.stdout.readline().strip() for _ in range(6)]
            grpc = printed[0].removeprefix("gRPC: ")
            rest = printed[1].removeprefix("REST: ")
            export = printed[5]
            assert export.startswith("export MONGODB_URI="), printed
            uri = export.removeprefix("export MONGODB_URI=").strip("'")
            yield Served(grpc=grpc, rest=rest, key=key, mongodb_uri=uri)
        finally:
            process.terminate()
            process.wait(timeout=60)


def script_of(blocks: list[Block], served: Served, workdir: Path) -> str:
    http_port = served.rest.rsplit(":", 1)[1]
    grpc_port = served.grpc.rsplit(":", 1)[1]
    lines = [
        "set -euo pipefail",
        # no venv on PATH: the blocks say .venv/bin/bucketd, as a reader types it
        f'python() {{ {sys.executable} "$@"; }}',
        f"export MONGODB_URI='{served.mongodb_uri}'",
        'curl() { command curl --fail-with-body --max-time 60 "$@"; }',
        # readiness first: the quick start's own readyz line assumes a server that is up
        f"until command curl -sf localhost:{http_port}/readyz >/dev/null; do sleep 0.2; done",
    ]
    for block in blocks:
        text = block.text.replace(PLACEHOLDER_KEY, served.key)
        text = text.replace("localhost:8080", f"localhost:{http_port}")
        text = text.replace("localhost:50051", f"localhost:{grpc_port}")
        lines.append(f"echo '### {block.document} line {block.line}' >&2")
        if block.language == "python":
            path = workdir.parent / f"{Path(block.document).stem}_line_{block.line}.py"
            path.write_text(text)
            lines.append(f"python {path}")
        else:
            lines.append(text)
    return "\n".join(lines) + "\n"


def test_every_block_runs_in_order(served: Served, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "examples", checkout / "examples")
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    before = sorted(path.name for path in checkout.iterdir())
    blocks = runnable()
    assert any(PLACEHOLDER_KEY in b.text for b in blocks)
    script = script_of(blocks, served, checkout)
    assert ":8080" not in script and ":50051" not in script and PLACEHOLDER_KEY not in script
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    failed_at = [line for line in result.stderr.splitlines() if line.startswith("### ")]
    assert result.returncode == 0, (
        f"README block failed ({failed_at[-1:]}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    out = result.stdout
    assert '"SERVING"' in out
    assert "downloaded the same bytes" in out
    assert re.search(r"^204$", out, re.MULTILINE), out
    assert re.search(r"^obj_\w+ TASK_STATUS_PENDING 463$", out, re.MULTILINE), out
    assert '"sent as a form"' in out and '"photos"' in out
    assert "resumed upload stored: same SHA-256" in out
    assert re.search(r"^obj_\w+ PENDING sha256:[0-9a-f]{64}$", out, re.MULTILINE), out
    assert "True\nNOT_FOUND Object 'obj_missing' not found" in out
    assert "got it back under its stored name" in out and "downloaded to" in out
    assert sorted(path.name for path in checkout.iterdir()) == before  # nothing left behind
