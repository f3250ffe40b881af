"""A download broken mid-transfer (the connection cut under a ReadObject stream) is resumed by
the client from the bytes already written: no byte is fetched twice, and the file's SHA-256 is
the stored one."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from bucketd.client import AsyncClient
from tests.e2e.harness import Service, Tenant
from tests.e2e.objects_support import make_bucket
from tests.e2e.proxy import Faults, misbehaving_proxy
from tests.e2e.read_support import MIB, upload

SIZE = 24 * MIB
CUT_AT = 10 * MIB


async def test_a_download_cut_mid_stream_resumes_where_it_stopped(
    service: Service, acme: Tenant, tmp_path: Path
) -> None:
    await make_bucket(service, acme)
    data = os.urandom(SIZE)
    object_id = await upload(service, acme, data, filename="big.bin")
    faults = Faults(cut_replies_after_bytes=CUT_AT)
    seen: list[int] = []
    async with (
        misbehaving_proxy(service.grpc_address, faults) as address,
        AsyncClient(address, api_key=acme.api_key, namespace=acme.namespace) as client,
    ):
        path = await client.download(
            "things",
            object_id,
            tmp_path / "copy.bin",
            progress=lambda done, _total: seen.append(done),
        )
    assert faults.cuts == 1 and faults.connections >= 2
    copy = await asyncio.to_thread(path.read_bytes)
    assert hashlib.sha256(copy).digest() == hashlib.sha256(data).digest()
    assert seen == sorted(seen) and seen[-1] == SIZE  # never back to 0: written once
    cut_at = max(done for done in seen if done <= CUT_AT)
    assert cut_at > MIB  # slices were written before the cut
    # The second call asked for the rest only: all the replies hold the blob, once, plus the
    # slice lost in the cut and the calls' own framing (metadata, headers, CRC32Cs).
    assert SIZE <= faults.replied < SIZE + 4 * MIB, faults.replied
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.part")))
