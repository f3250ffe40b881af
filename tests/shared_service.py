"""One bucketd for all the tests of a module, each test with an organization of its own.

Starting bucketd (MongoDB indexes, the S3 bucket and its CORS, the listeners) costs about a
second on a 2-core machine; a module of a hundred request/answer tests does not need a hundred.
A module opts in with

    settings, service, acme, globex = shared_service()

(optionally `shared_service(configure)`, `configure` changing the module's Settings), and runs
its async tests on the module's event loop, where that bucketd runs:
`@pytest.mark.asyncio(loop_scope="module")` on each, or as `pytestmark` when all are async. The
tenants are new organizations for every test ("acme-1f3a…"), so what one test makes (namespaces,
buckets, objects, uploads) is invisible to the others, as tenancy guarantees. A test that needs
a setting of its own, or that looks at state shared by every organization (the janitor's sweep,
metrics), stays on the per-test `service` of tests/conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from bucketd.gateway.settings import GatewaySettings
from bucketd.process import running_process
from bucketd.server.settings import Settings
from tests.e2e.harness import Service, Tenant, serving


def shared_service(configure: Callable[[Settings], Settings] = lambda settings: settings) -> Any:
    """The module's `settings`, `service`, `acme` and `globex` fixtures (see the docstring)."""

    @pytest.fixture(scope="module", name="settings")
    def settings(module_settings: Settings) -> Settings:
        return configure(module_settings)

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="service")
    async def service(
        settings: Settings, gateway_settings: GatewaySettings
    ) -> AsyncIterator[Service]:
        async with (
            running_process(settings, gateway_settings) as process,
            serving(process) as served,
        ):
            yield served

    @pytest_asyncio.fixture(loop_scope="module", name="acme")
    async def acme(service: Service) -> Tenant:
        return await service.tenant(f"acme-{uuid.uuid4().hex[:12]}")

    @pytest_asyncio.fixture(loop_scope="module", name="globex")
    async def globex(service: Service) -> Tenant:
        return await service.tenant(f"globex-{uuid.uuid4().hex[:12]}")

    return settings, service, acme, globex
