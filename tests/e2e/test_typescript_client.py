"""A non-Python client over the wire: the TypeScript package in clients/typescript (stubs from
buf + protoc-gen-es, @connectrpc/connect-node's gRPC transport) runs its tests against this
server: namespace, bucket, object, a streamed blob, errors and metadata.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from tests.e2e.harness import Service, Tenant

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "typescript"


async def test_typescript_client(service: Service, acme: Tenant) -> None:
    assert (PACKAGE / "src" / "gen" / ".generated").exists(), (
        "the TypeScript stubs are missing: run `make setup` (npm ci + buf generate)"
    )
    env = {
        **os.environ,
        "BUCKETD_GRPC_URL": f"http://{service.grpc_address}",
        "BUCKETD_API_KEY": acme.api_key,
    }
    process = await asyncio.create_subprocess_exec(
        "npm",
        "test",
        "--silent",
        cwd=PACKAGE,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "# pass 2" in text and "# fail 0" in text, text
