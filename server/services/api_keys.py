"""API keys: issue, list, revoke, and authenticate a call (with a short in-memory cache)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bucketd.server.domain import keys
from bucketd.server.domain.ids import new_id
from bucketd.server.domain.models import ApiKey, Principal
from bucketd.server.errors import InvalidArgument, NotFound, Unauthenticated
from bucketd.server.services.cache import TtlCache
from bucketd.server.services.ports import ApiKeyStore, OrganizationStore

Clock = Callable[[], datetime]

MISSING_KEY = "Missing API key: send the header 'Authorization: Bearer sk_...'"
MALFORMED_KEY = "Malformed API key: expected 'Authorization: Bearer sk_live_...' or 'sk_test_...'"
INVALID_KEY = "Invalid API key: unknown, revoked or expired"


@dataclass(frozen=True)
class IssuedKey:
    record: ApiKey
    plaintext: str


KeyCache = TtlCache[str, ApiKey]  # valid keys by digest; a revoked key works up to `ttl` more


class ApiKeyService:
    def __init__(
        self,
        *,
        organizations: OrganizationStore,
        api_keys: ApiKeyStore,
        cache: KeyCache,
        clock: Clock,
    ) -> None:
        self._organizations = organizations
        self._keys = api_keys
        self._cache = cache
        self._clock = clock

    async def issue(
        self,
        organization: str,
        *,
        test: bool,
        expires_in: timedelta | None = None,
        plaintext: str | None = None,
    ) -> IssuedKey:
        """A new key of `organization` (created if needed); `plaintext` imports a given key."""
        if plaintext is not None and not keys.is_well_formed(plaintext):
            raise InvalidArgument("The key must look like sk_live_/sk_test_ + 32 letters or digits")
        now = self._clock()
        org = await self._organizations.get_or_create(organization, now=now)
        secret = plaintext or keys.generate_key(test=test)
        record = ApiKey(
            key_id=new_id("key_"),
            organization_id=org.organization_id,
            digest=keys.key_digest(secret),
            prefix=keys.display_prefix(secret),
            test=keys.is_test_key(secret),
            created_at=now,
            expires_at=now + expires_in if expires_in else None,
        )
        await self._keys.insert(record)
        return IssuedKey(record=record, plaintext=secret)

    async def ensure(self, organization: str, plaintext: str) -> ApiKey:
        """The record of `plaintext`, imported into `organization` if it is not known yet."""
        existing = await self._keys.find_by_digest(keys.key_digest(plaintext))
        if existing is not None:
            return existing
        return (await self.issue(organization, test=True, plaintext=plaintext)).record

    async def any_active(self) -> bool:
        """Whether any key could authenticate a call (a first run has none)."""
        return await self._keys.any_active()

    async def list_keys(self, organization: str | None) -> list[tuple[ApiKey, str]]:
        """Keys with their organization's name, optionally of one organization."""
        organization_id = None
        if organization is not None:
            org = await self._organizations.find_by_name(organization)
            if org is None:
                raise NotFound(f"Organization '{organization}' not found")
            organization_id = org.organization_id
        records = await self._keys.list_keys(organization_id)
        names = await self._organizations.names(sorted({k.organization_id for k in records}))
        return [(record, names.get(record.organization_id, "?")) for record in records]

    async def revoke(self, id_or_prefix: str) -> ApiKey:
        matches = await self._keys.find_by_id_or_prefix(id_or_prefix)
        if not matches:
            raise NotFound(f"No API key with id or prefix '{id_or_prefix}'")
        if len(matches) > 1:
            ids = ", ".join(match.key_id for match in matches)
            raise InvalidArgument(f"'{id_or_prefix}' matches several keys ({ids}): use the id")
        await self._keys.revoke(matches[0].key_id, now=self._clock())
        return matches[0]

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an Authorization header value, or Unauthenticated."""
        if not authorization:
            raise Unauthenticated(MISSING_KEY)
        token = keys.bearer_token(authorization)
        if token is None or not keys.is_well_formed(token):
            raise Unauthenticated(MALFORMED_KEY)
        digest = keys.key_digest(token)
        record = self._cache.get(digest)
        if record is None:
            record = await self._keys.find_by_digest(digest)
            if record is not None:
                self._cache.put(digest, record)
        if record is None or not record.usable_at(self._clock()):
            raise Unauthenticated(INVALID_KEY)
        return Principal(organization_id=record.organization_id, key_id=record.key_id)
