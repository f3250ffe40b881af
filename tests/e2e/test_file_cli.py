"""`bucketd put / get / ls` as a user runs them: subprocesses against a running server."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bucketd.client import AsyncClient
from bucketd.v1 import objects_pb2 as pb
from tests.e2e.child_env import child_env
from tests.e2e.harness import Service, Tenant, until
from tests.e2e.objects_support import SCHEMA, digest
from tests.e2e.proxy import Faults, misbehaving_proxy

MIB = 1024 * 1024
CLIPS = {"properties": {"clip": {"type": "video"}, "title": {"type": "string"}}}


def _env(
    service: Service, tenant: Tenant, cache: Path, address: str | None = None
) -> dict[str, str]:
    return child_env(
        BUCKETD_ADDRESS=address or service.grpc_address,
        BUCKETD_API_KEY=tenant.api_key,
        BUCKETD_NAMESPACE=tenant.namespace or "default",
        XDG_CACHE_HOME=str(cache),
    )


async def _bucketd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bucketd",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


@pytest.fixture
async def clips(service: Service, acme: Tenant) -> None:
    async with AsyncClient(service.grpc_address, api_key=acme.api_key) as client:
        await client.create_bucket("clips", CLIPS)
        await client.create_bucket("things", SCHEMA)


@pytest.mark.usefixtures("clips")
async def test_put_get_ls_round_trip_64_mib(service: Service, acme: Tenant, tmp_path: Path) -> None:
    data = os.urandom(64 * MIB)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    env = _env(service, acme, tmp_path / "cache")
    put = await _bucketd(env, "put", str(source), "--bucket", "clips", "--meta", "title=big")
    assert put.returncode == 0, put.stderr
    object_id = put.stdout.split(" -> ")[1].split()[0]
    assert "%|" not in put.stderr  # no progress bar off a terminal
    listed = await _bucketd(env, "ls", "--bucket", "clips", "--json")
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["object_id"], row["title"]) == (object_id, "big")
    table = await _bucketd(env, "ls", "--bucket", "clips")
    header, line = table.stdout.splitlines()
    assert header.split()[-1] == "TITLE" and line.split()[-1] == "big", table.stdout
    assert object_id in line and "67108864" in line
    copy = tmp_path / "copy.mp4"
    got = await _bucketd(env, "get", object_id, "--bucket", "clips", "-o", str(copy), "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["size_bytes"] == len(data)
    assert copy.read_bytes() == data
    assert not list((tmp_path / "cache" / "bucketd" / "uploads").iterdir())  # nothing to resume
    for directory in (tmp_path / "here", tmp_path / "dl"):  # existing, or named with a slash
        (tmp_path / "here").mkdir(exist_ok=True)
        target = str(directory) + ("" if directory.exists() else "/")
        got = await _bucketd(env, "get", object_id, "--bucket", "clips", "-o", target)
        assert got.returncode == 0, got.stderr
        assert (directory / "clip.mp4").read_bytes() == data  # under the stored filename
    failed = await _bucketd(env, "get", "obj_missing", "--bucket", "clips", "-o", f"{tmp_path}/x/")
    assert failed.returncode != 0 and not (tmp_path / "x").exists()
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.rglob("*.part")))
    assert not leftovers  # a failed get leaves nothing


@pytest.mark.usefixtures("clips")
async def test_put_uploads_several_files_at_once(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    big, small = tmp_path / "big.mp4", [tmp_path / f"small{i}.mp4" for i in range(4)]
    contents = {big: os.urandom(96 * MIB)} | {
        path: os.urandom(1000 + i) for i, path in enumerate(small)
    }
    for path, data in contents.items():
        path.write_bytes(data)
    env = _env(service, acme, tmp_path / "cache")
    paths = [big, *small, small[0], tmp_path / "missing.mp4"]  # small0 twice
    put = await _bucketd(env, "put", *map(str, paths), "--bucket", "clips", "-j", "3", "--json")
    assert put.returncode == 2 and "missing.mp4: [Errno 2] No such file" in put.stderr, put
    rows = [json.loads(line) for line in put.stdout.splitlines()]
    done = [Path(row["path"]) for row in rows if "object" in row]
    assert sorted(done) == sorted(paths[:-1])
    assert done[-1] == big  # the small files were uploaded while the big one streamed
    for row in rows:
        if "object" in row:
            details = row["object"]["blobs"][0]["details"]
            assert details["hash"] == digest(contents[Path(row["path"])])
    twice = {row["object"]["object_id"] for row in rows if row["path"] == str(small[0])}
    assert len(twice) == 2
    for jobs in ("0", "17", "many"):
        refused = await _bucketd(env, "put", str(big), "--bucket", "clips", "--jobs", jobs)
        assert refused.returncode == 2 and "from 1 to 16" in refused.stderr, refused


@pytest.mark.usefixtures("clips")
async def test_exit_codes_say_what_failed(service: Service, acme: Tenant, tmp_path: Path) -> None:
    env = _env(service, acme, tmp_path)
    file = tmp_path / "a.txt"
    file.write_text("notes")
    cases = [
        (env, ["ls", "--bucket", "nope"], 3, "Bucket 'nope' not found"),
        (
            {**env, "BUCKETD_API_KEY": "sk_test_" + "q" * 32},
            ["ls", "--bucket", "clips"],
            4,
            "API key",
        ),
        (env, ["put", str(tmp_path / "missing.mp4"), "--bucket", "clips"], 2, "No such file"),
        (env, ["put", str(file), "--bucket", "things"], 6, "file properties"),
        (env, ["put", str(file), "--bucket", "clips", "--meta", "oops"], 6, "KEY=VALUE"),
        ({**env, "BUCKETD_API_KEY": ""}, ["ls", "--bucket", "clips"], 2, "BUCKETD_API_KEY"),
    ]
    for case_env, args, code, message in cases:
        result = await _bucketd(case_env, *args)
        assert (result.returncode, message in result.stderr) == (code, True), (args, result)
    json_error = await _bucketd(env, "ls", "--bucket", "nope", "--json")
    assert json.loads(json_error.stdout)["error"]["code"] == "NOT_FOUND"


@pytest.mark.usefixtures("clips")
async def test_progress_bar_on_a_terminal_and_quiet(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    source = tmp_path / "clip.mp4"
    source.write_bytes(os.urandom(24 * MIB))
    env = _env(service, acme, tmp_path / "cache")

    def run_on_a_terminal(*extra: str, command: tuple[str, ...] = ("put", str(source))) -> str:
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "bucketd", *command, "--bucket", "clips", *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        assert process.wait(timeout=120) == 0
        assert process.stdout is not None
        process.stdout.close()
        os.close(controller)
        return shown.decode(errors="replace")

    bar = await asyncio.to_thread(run_on_a_terminal)
    assert "clip.mp4" in bar and "%|" in bar and "24.0M" in bar, bar
    assert await asyncio.to_thread(run_on_a_terminal, "--quiet") == ""
    async with AsyncClient(service.grpc_address, api_key=acme.api_key) as client:
        listed = (await client.list_objects("clips"))["results"]
    folder = tmp_path / "downloads"
    get = ("get", listed[0]["object_id"], "-o", f"{folder}/")
    bar = await asyncio.to_thread(run_on_a_terminal, command=get)
    assert "clip.mp4" in bar and "downloads" not in bar, bar  # the file's name, not the folder's


@pytest.mark.usefixtures("clips")
async def test_an_interrupted_put_resumes_when_run_again(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    data = os.urandom(48 * MIB)
    source = tmp_path / "clip.mp4"
    source.write_bytes(data)
    cache = tmp_path / "cache"
    state = cache / "bucketd" / "uploads"
    faults = Faults(bytes_per_second=24 * MIB)  # slow enough to be killed halfway
    async with misbehaving_proxy(service.grpc_address, faults) as address:
        env = _env(service, acme, cache, address)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bucketd", "put", str(source), "--bucket", "clips", env=env
        )
        async with AsyncClient(service.grpc_address, api_key=acme.api_key) as client:

            async def persisted() -> int:
                files = list(state.glob("*.json")) if state.exists() else []
                if not files:
                    return 0
                session = json.loads(files[0].read_text())["session_id"]
                status = await client.stubs.objects.GetUploadSession(
                    pb.GetUploadSessionRequest(session_id=session), metadata=client.metadata()
                )
                return int(status.persisted_sizes[0])

            async def two_parts_kept() -> bool:
                return await persisted() >= 16 * MIB

            await until(two_parts_kept)
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
    rerun = await _bucketd(_env(service, acme, cache), "put", str(source), "--bucket", "clips")
    assert rerun.returncode == 0, rerun.stderr
    assert "clip.mp4: resuming from byte" in rerun.stderr
    resumed_at = int(rerun.stderr.split("resuming from byte ")[1].split()[0])
    assert resumed_at >= 16 * MIB  # every byte the killed process delivered
    assert not list(state.glob("*.json"))
    async with AsyncClient(service.grpc_address, api_key=acme.api_key) as client:
        [obj] = (await client.list_objects("clips"))["results"]
    assert obj["blobs"][0]["details"]["size_bytes"] == len(data)
    assert obj["blobs"][0]["details"]["hash"] == digest(data)
