"""Who may import whom, read from the source (issue 26): the client, the gateway and the server
each depend on the contract (bucketd.v1, bucketd.codec and the shared root modules), never on
each other; inside the server, api -> services -> domain <- storage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bucketd.server.api import authenticate, buckets, namespaces, objects, tasks, uploads
from bucketd.server.domain.status import Status
from bucketd.spellings import numbers
from bucketd.v1 import common_pb2

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: str) -> dict[str, set[str]]:
    """file -> the bucketd modules it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.startswith("bucketd")}
    return found


FORBIDDEN = {
    "client": ("bucketd.server", "bucketd.gateway"),
    "gateway": ("bucketd.server", "bucketd.client"),
    "server": ("bucketd.gateway", "bucketd.client"),
    "server/domain": ("bucketd.server.services", "bucketd.server.storage", "bucketd.server.api"),
    "server/services": ("bucketd.server.storage", "bucketd.server.api"),
    "server/storage": ("bucketd.server.services", "bucketd.server.api"),
    "bucketd/codec": ("bucketd.server", "bucketd.gateway", "bucketd.client"),
}


@pytest.mark.parametrize("folder", FORBIDDEN)
def test_no_import_crosses_a_boundary(folder: str) -> None:
    crossing = {
        file: sorted(n for n in names if n.startswith(FORBIDDEN[folder]))
        for file, names in _imports(folder).items()
    }
    assert not {file: names for file, names in crossing.items() if names}


def test_the_check_sees_imports() -> None:
    imports = _imports("client")
    assert "bucketd.codec" in imports["client/async_client.py"]


def test_every_rpc_has_its_implementation_and_statuses_match_the_contract() -> None:
    """No RPC is left to a generated base servicer (it would answer UNIMPLEMENTED), and the
    domain's status vocabulary is the contract's, value for value."""
    for module, servicer in (
        (namespaces, namespaces.NamespaceServicer),
        (buckets, buckets.BucketServicer),
        (objects, objects.ObjectServicer),
        (uploads, uploads.UploadServicer),
        (tasks, tasks.TaskServicer),
        (authenticate, authenticate.AuthServicer),
    ):
        service = servicer.__mro__[1]
        names = [name for name in vars(service) if name[0].isupper()]
        missing = [name for name in names if getattr(servicer, name) is getattr(service, name)]
        assert names and not missing, (module.__name__, missing)
    assert {s.value for s in Status} == set(numbers(common_pb2.TaskStatus.DESCRIPTOR))
