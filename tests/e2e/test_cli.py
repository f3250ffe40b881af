"""The README's run command: `bucketd serve` starts everything, answers, and stops cleanly."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any
from urllib.parse import urlparse

from bucketd.server.domain import keys
from tests.e2e.child_env import child_env

SERVE_TIMEOUT_SECONDS = 60


def _listening(url: str) -> bool:
    address = urlparse(url if "://" in url else f"tcp://{url}")
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((address.hostname or "", address.port or 0)) == 0


def _healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def test_help_explains_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bucketd", "serve", "--help"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert "--grpc-port" in result.stdout
    assert "stand-in" in result.stdout


def _list_buckets(url: str, key: str) -> int:
    request = urllib.request.Request(
        f"{url}/v1/buckets/list",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {key}", "X-Namespace": "default"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())
        assert body["total_count"] == 0
        return int(response.status)


def _rest(url: str, key: str, method: str, path: str, body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{url}{path}", data=data, method=method, headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_serve_with_standins_answers_and_shuts_down_on_sigterm() -> None:
    dev_key = keys.generate_key(test=True)
    env = child_env(BUCKETD_DEV_API_KEY=dev_key)
    with subprocess.Popen(
        [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(4)]
            rest_url = lines[1].removeprefix("REST: ").strip()
            assert lines[0].startswith("gRPC: ") and rest_url.startswith("http://"), lines
            assert lines[2].strip() == f"API key: {dev_key}"
            assert lines[3].strip() == "Namespace: default"
            hints = [process.stdout.readline().strip() for _ in range(3)]
            deadline = time.monotonic() + SERVE_TIMEOUT_SECONDS
            while _healthz(rest_url) != 200:  # readiness probe loop
                assert time.monotonic() < deadline, "bucketd never became healthy"
                time.sleep(0.1)
            assert _list_buckets(rest_url, dev_key) == 200
            # the printed lines, pasted: another key of the quick start's organization, which
            # sees the namespace the quick start makes
            export, command = hints[1], hints[2]
            assert export.startswith("export MONGODB_URI=") and "keys create" in command
            _rest(rest_url, dev_key, "POST", "/v1/namespaces", {"namespace_name": "demo"})
            pasted = subprocess.run(
                ["sh", "-c", f"{export} && {command}"],
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
                env=child_env(),
            )
            assert "organization: default (" in pasted.stdout, pasted.stdout
            pasted_key = pasted.stdout.strip().splitlines()[-1]
            listed = _rest(rest_url, pasted_key, "GET", "/v1/namespaces")
            assert "demo" in [row["namespace_name"] for row in listed["results"]]
            assert _list_buckets(rest_url, pasted_key) == 200
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


def test_malformed_dev_key_is_refused_before_anything_starts() -> None:
    env = child_env(BUCKETD_DEV_API_KEY="sk_live_nope")
    result = subprocess.run(
        [sys.executable, "-m", "bucketd", "serve", "--grpc-port", "0", "--http-port", "0"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "BUCKETD_DEV_API_KEY must look like sk_test_" in result.stderr


def _keys(mongodb_uri: str, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env(MONGODB_URI=mongodb_uri, MONGODB_DATABASE=database)
    return subprocess.run(
        [sys.executable, "-m", "bucketd", "keys", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_keys_create_list_revoke(mongodb_uri: str, unique_name: str) -> None:
    created = _keys(mongodb_uri, unique_name, "create", "--org", "acme", "--test")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert keys.is_well_formed(key) and key.startswith("sk_test_")
    live = _keys(mongodb_uri, unique_name, "create", "--org", "acme")
    assert live.stdout.strip().splitlines()[-1].startswith("sk_live_")

    listed = _keys(mongodb_uri, unique_name, "list", "--org", "acme")
    assert listed.returncode == 0
    assert key[:12] in listed.stdout and key not in listed.stdout
    assert listed.stdout.count("active") == 2

    revoked = _keys(mongodb_uri, unique_name, "revoke", key[:12])
    assert revoked.returncode == 0, revoked.stdout
    after = _keys(mongodb_uri, unique_name, "list")
    assert "revoked" in after.stdout

    unknown = _keys(mongodb_uri, unique_name, "revoke", "sk_test_nothing")
    assert unknown.returncode == 1
    assert "No API key with id or prefix" in unknown.stdout


def test_keys_without_mongodb_uri_explains() -> None:
    env = child_env()
    result = subprocess.run(
        [sys.executable, "-m", "bucketd", "keys", "list"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "set MONGODB_URI" in result.stderr
