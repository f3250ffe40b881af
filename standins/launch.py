"""Start the stand-in servers as child processes, wait until they answer, stop them after.

Used by `bucketd serve` (when MONGODB_URI / S3_ENDPOINT_URL are unset) and by the test harness.
A child's stderr goes to a temporary file (a pipe nobody reads would fill up and stall it) and
is quoted when the child fails to start.
"""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import IO

START_TIMEOUT_SECONDS = 60.0


class StandinError(RuntimeError):
    """A stand-in server did not start; the message carries what it printed."""


@contextlib.contextmanager
def _child(
    args: list[str], *, stdin: int, stdout: int
) -> Iterator[tuple[subprocess.Popen[bytes], IO[bytes]]]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=log)
        try:
            yield process, log
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _failure(name: str, log: IO[bytes], reason: str) -> StandinError:
    log.seek(0)
    output = log.read().decode(errors="replace")
    return StandinError(f"{name} stand-in {reason}.\n{output[-4000:]}")


@contextlib.contextmanager
def mongo_standin() -> Iterator[str]:
    """Run mongoeco's wire-protocol server (in-memory) and yield its mongodb:// URI."""
    args = [sys.executable, "-m", "bucketd.standins.mongo_main", "--port", "0"]
    with _child(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as (process, log):
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
        line = process.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("READY "):
            raise _failure("MongoDB", log, "did not report READY")
        yield line.removeprefix("READY ")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def s3_standin() -> Iterator[str]:
    """Run moto's S3 server (the `moto_server` program) on loopback; yield its endpoint URL."""
    port = _free_port()
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    endpoint = f"http://127.0.0.1:{port}"
    with _child(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL) as (process, log):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(f"{endpoint}/moto-api/data.json"):
            if process.poll() is not None:
                raise _failure("S3", log, f"exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise _failure("S3", log, f"did not answer within {START_TIMEOUT_SECONDS:.0f}s")
            time.sleep(0.1)  # polling the health URL, not waiting blindly
        yield endpoint
