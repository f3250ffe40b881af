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

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from bucketd.server.domain import keys
from tests.e2e.child_env import child_env

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# Where commands are, in the order a reader follows them (the guides continue the quick start).
DOCUMENTS = [README, ROOT / "docs" / "api.md", ROOT / "docs" / "operating.md",
             ROOT / "docs" / "other-languages.md"]  # fmt: skip
NOT_RUN = re.compile(r"<!-- README test: not run \((?P<why>.+)\) -->")
# A block that starts a server of its own against real stores: run alone, by its own test.
ALONE = "<!-- docs test: run alone, its values replaced by the suite's MongoDB and S3 -->"
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
    alone: bool = False


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
        blocks.append(Block(name, index + 1, fence["info"], text, why, previous.strip() == ALONE))
        index = end + 1
    return blocks


def runnable() -> list[Block]:
    return [
        b
        for b in readme_blocks()
        if b.language in {"sh", "python"} and not b.not_run_because and not b.alone
    ]


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


@pytest.mark.timeout(SCRIPT_TIMEOUT_SECONDS + 60)  # the script has its own limit
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


def test_the_real_stores_block_starts_bucketd(
    mongodb_uri: str, s3_endpoint_url: str, unique_name: str
) -> None:
    """docs/operating.md's "against real MongoDB and S3" block, its placeholders replaced by the
    suite's servers: every variable it sets is one the test can fill, and `make run` then
    serves, ready. A block missing a required setting (S3_BUCKET) fails here."""
    [block] = [b for b in readme_blocks() if b.alone]
    values = {
        "MONGODB_URI": mongodb_uri,
        "S3_ENDPOINT_URL": s3_endpoint_url,
        "S3_BUCKET": f"bucketd-{unique_name}",
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    }
    script = [_filled(line, values) for line in block.text.splitlines()]
    assert "make run" in script, block.text
    # the free ports the OS picks, and the venv `make setup` made (never rebuilt from a test)
    script[script.index("make run")] = (
        "exec make --no-print-directory -o .venv/.runtime run ARGS='--grpc-port 0 --http-port 0'"
    )
    env = child_env(MONGODB_DATABASE=f"bucketd_{unique_name}")
    with subprocess.Popen(
        ["bash", "-c", "\n".join(["set -euo pipefail", *script])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # make and bucketd stop together
    ) as process:
        try:
            assert process.stdout is not None
            rest = _rest_url(process.stdout)
            assert rest, f"bucketd did not start:\n{_stderr(process)}"
            assert _ready(rest, process), _stderr(process)
        finally:
            _stop(process)


def _filled(line: str, values: dict[str, str]) -> str:
    """An `export A=x B=y` line with the suite's values; other lines as they are."""
    if not line.startswith("export "):
        return line
    names = [word.split("=", 1)[0] for word in shlex.split(line, comments=True)[1:]]
    unknown = set(names) - set(values)
    assert not unknown, f"the block sets {unknown}: the test has no value to give"
    return "export " + " ".join(f"{name}={shlex.quote(values[name])}" for name in names)


def _rest_url(stdout: IO[str]) -> str | None:
    for line in stdout:
        if line.startswith("REST: "):
            return line.removeprefix("REST: ").strip()
    return None


def _ready(rest: str, process: subprocess.Popen[str]) -> bool:
    deadline = time.monotonic() + SCRIPT_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{rest}/readyz", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            time.sleep(0.1)  # polling a health check
    return False


def _stderr(process: subprocess.Popen[str]) -> str:
    _stop(process)
    assert process.stderr is not None
    return process.stderr.read()[-3000:]


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
