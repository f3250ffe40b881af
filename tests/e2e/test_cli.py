"""The README's run command: `bucketd serve` starts everything, answers, and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse

SERVE_TIMEOUT_SECONDS = 60


def _listening(url: str) -> bool:
    address = urlparse(url if "://" in url else f"tcp://{url}")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((address.hostname or "", address.port or 0)) == 0


def _healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def test_help_explains_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "serve", "--help"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert "--grpc-port" in result.stdout
    assert "stand-in" in result.stdout


def test_serve_with_standins_answers_and_shuts_down_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"MONGODB_URI", "S3_ENDPOINT_URL"}}
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--grpc-port", "0", "--http-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        rest_url = lines[1].removeprefix("REST: ").strip()
        assert lines[0].startswith("gRPC: ") and rest_url.startswith("http://"), lines
        deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
        while _healthz(rest_url) != 200:  # readiness probe loop
            assert time.monotonic() < deadline, "bucketd never became healthy"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=SERVE_TIMEOUT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert process.stderr is not None
    log = process.stderr.read()
    standins = re.findall(r"stand-in \S+ \([^)]*\) at (\S+);", log)
    assert len(standins) == 2, log
    assert "shutting down" in log
    for address in standins:
        assert not _listening(address), f"stand-in {address} outlived bucketd"
