"""A non-Python client over the wire: the TypeScript package in clients/typescript (stubs from
buf + protoc-gen-es, @connectrpc/connect-node's gRPC transport) runs its tests against this
server: namespace, bucket, object, a streamed blob, errors and metadata.
"""

from __future__ import annotations

import asyncio
import json
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


def test_the_example_pins_the_versions_it_was_run_with() -> None:
    """Exact versions only (TypeScript 7.0 breaks tools that 5.9 runs, openapi-typescript 7
    among them): what the docs show is what `npm ci` installs and this suite ran."""
    manifest = json.loads((PACKAGE / "package.json").read_text())
    lock = json.loads((PACKAGE / "package-lock.json").read_text())["packages"]
    pinned = manifest["dependencies"] | manifest["devDependencies"]
    loose = {name: spec for name, spec in pinned.items() if not spec[:1].isdigit()}
    assert not loose, f"pin these to an exact version: {loose}"
    for name, version in pinned.items():
        assert lock[f"node_modules/{name}"]["version"] == version, name
    assert pinned["typescript"].startswith("5.9."), "docs/other-languages.md says 5.9"
