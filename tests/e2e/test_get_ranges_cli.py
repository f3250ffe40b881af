"""`bucketd get --range` and `-o -` as a user runs them: a subprocess against a running server,
its stdout the blob's bytes and nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.e2e.child_env import child_env
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket
from tests.e2e.read_support import MIB, upload

SIZE = 5 * MIB + 3  # three slices: ranges that start and end inside the last one


async def _get(service: Service, tenant: Tenant, *args: str, cwd: Path) -> tuple[int, bytes, str]:
    """`bucketd get …`: its exit code, stdout (bytes) and stderr."""
    env = child_env(
        BUCKETD_ADDRESS=service.grpc_address,
        BUCKETD_API_KEY=tenant.api_key,
        BUCKETD_NAMESPACE=tenant.namespace or "default",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bucketd",
        "get",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out, err.decode()


@pytest.fixture
async def stored(service: Service, acme: Tenant) -> tuple[str, bytes]:
    await make_bucket(service, acme)
    data = os.urandom(SIZE)
    return await upload(service, acme, data, filename="n.bin"), data


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, slice(None)),  # the whole blob
        ("0-0", slice(0, 1)),  # the first byte
        (f"{SIZE - 1}-{SIZE - 1}", slice(SIZE - 1, SIZE)),  # the last byte
        ("10-19", slice(10, 20)),
        (f"{4 * MIB - 5}-", slice(4 * MIB - 5, SIZE)),  # from A to the end, across a slice
        ("-7", slice(SIZE - 7, SIZE)),  # the last 7
        (f"-{2 * SIZE}", slice(None)),  # a suffix longer than the blob: all of it
        (f"100-{3 * SIZE}", slice(100, SIZE)),  # an end past the blob's: to its end
    ],
)
async def test_get_writes_the_range_to_stdout(
    service: Service,
    acme: Tenant,
    stored: tuple[str, bytes],
    *,
    tmp_path: Path,
    given: str | None,
    expected: slice,
) -> None:
    object_id, data = stored
    ranged = ("--range", given) if given else ()
    code, out, err = await _get(
        service, acme, object_id, "-b", "things", "-o", "-", *ranged, cwd=tmp_path
    )
    assert code == 0, err
    assert out == data[expected]
    assert not await asyncio.to_thread(
        lambda: list(tmp_path.iterdir())
    )  # nothing written but stdout


async def test_get_range_into_a_file_and_json_on_stderr_with_stdout(
    service: Service, acme: Tenant, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    object_id, data = stored
    code, out, err = await _get(
        service, acme, object_id, "-b", "things", "--range", "1-4", "-o", "part.bin", cwd=tmp_path
    )
    assert code == 0, err
    assert await asyncio.to_thread((tmp_path / "part.bin").read_bytes) == data[1:5]
    assert out.decode().strip().endswith("(4 bytes)")
    code, out, err = await _get(
        service, acme, object_id, "-b", "things", "-o", "-", "--range", "-3", "--json", cwd=tmp_path
    )
    assert (code, out) == (0, data[-3:]), err
    assert json.loads(err) == {"object_id": object_id, "path": "-", "size_bytes": 3}


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("9-3", "ends before it starts"),
        ("abc", "write A-B, A- or -N"),
        ("1-2-3", "write A-B, A- or -N"),
        ("-", "write A-B, A- or -N"),
        ("-0", "asks for no bytes"),
        ("0x1-2", "write A-B, A- or -N"),
    ],
)
async def test_a_bad_range_is_refused_before_any_call(
    service: Service, acme: Tenant, tmp_path: Path, given: str, says: str
) -> None:
    code, out, err = await _get(
        service, acme, "obj_x", "-b", "things", "-o", "-", f"--range={given}", cwd=tmp_path
    )
    assert (code, out) == (2, b""), err
    assert says in err


async def test_a_range_past_the_end_exits_6_and_writes_nothing(
    service: Service, acme: Tenant, stored: tuple[str, bytes], tmp_path: Path
) -> None:
    object_id, _ = stored
    for output in ("-", "past.bin"):
        code, out, err = await _get(
            service,
            acme,
            object_id,
            "-b",
            "things",
            "-o",
            output,
            "--range",
            f"{SIZE}-",
            cwd=tmp_path,
        )
        assert (code, out) == (6, b""), err
        assert "past the end" in err, err
    code, out, err = await _get(
        service,
        acme,
        object_id,
        "-b",
        "things",
        "-o",
        "-",
        "--range",
        f"{SIZE}-",
        "--json",
        cwd=tmp_path,
    )
    assert (code, out) == (6, b""), err  # --json's error line too goes to stderr, not the bytes
    assert '"error"' in err, err
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
