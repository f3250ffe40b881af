"""Stand-in mode: an organization, a namespace `default` and a test key, so curl works at once."""

from __future__ import annotations

import contextlib

from bucketd.server.domain import keys
from bucketd.server.domain.models import Principal
from bucketd.server.errors import AlreadyExists, InvalidArgument
from bucketd.server.services.api_keys import ApiKeyService
from bucketd.server.services.namespaces import NamespaceService

DEV_ORGANIZATION = "default"
DEV_NAMESPACE = "default"


def check_dev_key(plaintext: str | None) -> None:
    """BUCKETD_DEV_API_KEY, when set, must be a well-formed test key."""
    if plaintext is not None and not (
        keys.is_well_formed(plaintext) and keys.is_test_key(plaintext)
    ):
        raise InvalidArgument(
            "BUCKETD_DEV_API_KEY must look like sk_test_ followed by 32 letters or digits"
        )


async def bootstrap_dev(
    api_keys: ApiKeyService, namespaces: NamespaceService, plaintext: str | None
) -> str:
    """Ensure the dev organization, its `default` namespace and a test key; return the key."""
    check_dev_key(plaintext)
    if plaintext is None:
        issued = await api_keys.issue(DEV_ORGANIZATION, test=True)
        record, plaintext = issued.record, issued.plaintext
    else:
        record = await api_keys.ensure(DEV_ORGANIZATION, plaintext)
    principal = Principal(organization_id=record.organization_id, key_id=record.key_id)
    with contextlib.suppress(AlreadyExists):
        await namespaces.create(
            principal, name=DEV_NAMESPACE, description="Created by bucketd serve (stand-in mode)"
        )
    return plaintext
