"""`bucketd keys …`: issue, list and revoke API keys in the MongoDB of MONGODB_URI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta

from bucketd.server.domain.models import Principal
from bucketd.server.errors import AlreadyExists, BucketdError
from bucketd.server.runtime import open_accounts
from bucketd.server.settings import Settings
from bucketd.server.storage.documents import now_ms
from bucketd.server.wiring import Accounts


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser(
        "keys",
        help="manage API keys (in the MongoDB of MONGODB_URI)",
        description="Issue, list and revoke API keys. Talks to the MongoDB of MONGODB_URI.",
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="issue a key; it is printed once, alone on the last line",
        description="Issue a key for an organization (created if needed). The key is printed "
        "once, alone on the last line of stdout; only its SHA-256 digest is stored.",
    )
    create.add_argument("--org", required=True, help="organization name")
    create.add_argument("--test", action="store_true", help="an sk_test_ key (default sk_live_)")
    create.add_argument("--expires-in-days", type=int, help="expire the key after N days")
    create.add_argument(
        "--namespace",
        metavar="NAME",
        help="also create this namespace in the organization (kept if it exists)",
    )
    listing = actions.add_parser("list", help="list keys (prefix, state; never the key)")
    listing.add_argument("--org", help="only this organization's keys")
    revoke = actions.add_parser(
        "revoke",
        help="revoke a key by id or display prefix",
        description="Revoke a key. Servers that cached it accept it for at most "
        "BUCKETD_KEY_CACHE_SECONDS more.",
    )
    revoke.add_argument("key", metavar="ID_OR_PREFIX", help="key_… id or the sk_… prefix shown")


async def _create(args: argparse.Namespace, accounts: Accounts) -> None:
    days = args.expires_in_days
    issued = await accounts.api_keys.issue(
        args.org, test=args.test, expires_in=timedelta(days=days) if days else None
    )
    record = issued.record
    print(f"organization: {args.org} ({record.organization_id})")
    print(f"key id: {record.key_id}  prefix: {record.prefix}  expires: {record.expires_at}")
    if args.namespace:
        principal = Principal(organization_id=record.organization_id, key_id=record.key_id)
        try:
            await accounts.namespaces.create(principal, name=args.namespace, description=None)
            print(f"namespace: {args.namespace} (created; send it as X-Namespace)")
        except AlreadyExists:
            print(f"namespace: {args.namespace} (exists already)")
    print("Store the key now: it is shown only once.")
    print(issued.plaintext)


async def _list(args: argparse.Namespace, accounts: Accounts) -> None:
    now = now_ms()
    print(f"{'ID':<22} {'PREFIX':<14} {'ORGANIZATION':<20} {'STATE':<8} CREATED")
    for record, organization in await accounts.api_keys.list_keys(args.org):
        print(
            f"{record.key_id:<22} {record.prefix:<14} {organization:<20} "
            f"{record.state_at(now):<8} {record.created_at:%Y-%m-%d %H:%M}"
        )


async def _revoke(args: argparse.Namespace, accounts: Accounts) -> None:
    record = await accounts.api_keys.revoke(args.key)
    print(f"revoked {record.key_id} ({record.prefix}…)")


ACTIONS = {"create": _create, "list": _list, "revoke": _revoke}


async def _run(args: argparse.Namespace, settings: Settings) -> None:
    """The action, over the accounts the server's own composition root builds."""
    async with contextlib.AsyncExitStack() as stack:
        accounts = await open_accounts(settings, stack)
        await ACTIONS[args.action](args, accounts)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.mongodb_uri:
        raise SystemExit("bucketd keys: set MONGODB_URI to the MongoDB that bucketd serves from")
    try:
        asyncio.run(_run(args, settings))
    except BucketdError as error:
        print(f"bucketd keys: {error.message}")
        return 1
    return 0
