"""Start the stand-in servers as child processes, wait until they answer, stop them after.

Used by `bucketd serve` (when MONGODB_URI / S3_ENDPOINT_URL are unset) and by the test harness.
Each child binds port 0 and announces its address on stdout (`READY <url>`): no port is picked
here and released for the child to take, which another process could take first. Its stdin is a
pipe from this process, so it exits when this process dies, however it dies. Its stderr goes to
a temporary file (a pipe nobody reads would fill up and stall it), quoted if it fails to start.
"""

from __future__ import annotations

import contextlib
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

START_TIMEOUT_SECONDS = 60.0


class StandinError(RuntimeError):
    """A stand-in server did not start; the message carries what it printed."""


def _failure(name: str, log: IO[bytes], reason: str) -> StandinError:
    log.seek(0)
    output = log.read().decode(errors="replace")
    return StandinError(f"{name} stand-in {reason}.\n{output[-4000:]}")


@dataclass(frozen=True)
class Standin:
    """A running stand-in: the address it announced, and its process (to stop it in tests)."""

    url: str
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def _announced(name: str, module: str, port: int) -> Iterator[Standin]:
    """Run `python -m module --port <port>` (0: the OS picks) and yield what it announces."""
    args = [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port)]
    with (
        tempfile.TemporaryFile() as log,
        subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log) as child,
    ):
        assert child.stdin is not None and child.stdout is not None
        try:
            ready, _, _ = select.select([child.stdout], [], [], START_TIMEOUT_SECONDS)
            line = child.stdout.readline().decode().strip() if ready else ""
            if not line.startswith("READY "):
                raise _failure(name, log, "did not report READY")
            yield Standin(line.removeprefix("READY "), child)
        finally:
            child.stdin.close()  # the child's cue to stop
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def mongo_server(port: int = 0) -> contextlib.AbstractContextManager[Standin]:
    """mongoeco's wire-protocol server (in-memory engine) on loopback."""
    return _announced("MongoDB", "bucketd.standins.mongo_main", port)


def s3_server(port: int = 0) -> contextlib.AbstractContextManager[Standin]:
    """moto's S3 server on loopback."""
    return _announced("S3", "bucketd.standins.s3_main", port)


@contextlib.contextmanager
def mongo_standin() -> Iterator[str]:
    """Run mongoeco's wire-protocol server (in-memory) and yield its mongodb:// URI."""
    with mongo_server() as server:
        yield server.url


@contextlib.contextmanager
def s3_standin() -> Iterator[str]:
    """Run moto's S3 server on loopback and yield its endpoint URL."""
    with s3_server() as server:
        yield server.url
