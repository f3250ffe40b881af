"""One tenant's latency while another floods (part 3): a victim organization GETs its objects
over REST (closed loop), first alone, then while another organization (its own namespace and
bucket) lists and aggregates its objects from many clients and streams uploads. Target: the
victim's p99 under the flood at most twice its idle p99."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from bench.load.common import Calls, Instance, Outcome, Tenant, closed_loop, table
from bench.load.creates import make_bucket
from bench.upload import blocks

VICTIM_CLIENTS = 4
VICTIM_OBJECTS = 20
FLOOD_OBJECTS = 500  # the flooding tenant's bucket: what its lists and aggregates scan
UPLOAD_MIB = 8
LIST = {
    "filters": {"AND": [{"field": "metadata.n", "operator": "gte", "value": 0}]},
    "sort": {"field": "metadata.n", "direction": "desc"},
}
AGGREGATE = {
    "group_by": [{"field": "metadata.colour"}],
    "aggregations": [
        {"function": "count", "alias": "n"},
        {"function": "avg", "field": "metadata.n", "alias": "mean"},
    ],
}


@dataclass
class Flood:
    lists: Calls
    aggregates: Calls
    uploads: Calls


def _status(reply: aiohttp.ClientResponse) -> Outcome:
    return str(reply.status), float(reply.headers.get("Retry-After", 0))


async def _seed(http: aiohttp.ClientSession, tenant: Tenant, count: int) -> list[str]:
    """`count` objects with metadata (in batches of 100); their ids."""
    made: list[str] = []
    for start in range(0, count, 100):
        objects = [
            {"metadata": {"n": n, "colour": ("red", "green", "blue")[n % 3], "pad": "x" * 200}}
            for n in range(start, min(count, start + 100))
        ]
        async with http.post(
            "/v1/buckets/b/objects/batch", json={"objects": objects}, headers=tenant.headers
        ) as reply:
            assert reply.status == 200, await reply.text()
            made += [item["object_id"] for item in (await reply.json())["succeeded"]]
    return made


async def _victim(
    http: aiohttp.ClientSession, tenant: Tenant, ids: list[str], seconds: float
) -> Calls:
    turn = itertools.count()

    async def get(_: int) -> Outcome:
        object_id = ids[next(turn) % len(ids)]
        async with http.get(f"/v1/buckets/b/objects/{object_id}", headers=tenant.headers) as reply:
            await reply.read()
            return _status(reply)

    return await closed_loop(get, clients=VICTIM_CLIENTS, seconds=seconds)


async def _flood(
    http: aiohttp.ClientSession, tenant: Tenant, *, clients: int, uploaders: int, seconds: float
) -> Flood:
    async def list_call(_: int) -> Outcome:
        async with http.post(
            "/v1/buckets/b/objects/list?limit=100", json=LIST, headers=tenant.headers
        ) as reply:
            await reply.read()
            return _status(reply)

    async def aggregate_call(_: int) -> Outcome:
        async with http.post(
            "/v1/buckets/b/objects/aggregate", json=AGGREGATE, headers=tenant.headers
        ) as reply:
            await reply.read()
            return _status(reply)

    async def upload_call(index: int) -> Outcome:
        async def body() -> AsyncIterator[bytes]:
            for block in blocks(UPLOAD_MIB, os.urandom(16)):
                yield block

        async with http.post(
            "/v1/buckets/b/objects/upload?property=data&filename=f.bin", data=body(),
            headers={**tenant.headers, "Content-Type": "text/plain"},
        ) as reply:  # fmt: skip
            outcome = _status(reply)
            if reply.status == 200:
                made = (await reply.json())["object_id"]
                async with http.delete(f"/v1/buckets/b/objects/{made}", headers=tenant.headers):
                    pass  # its bytes leave S3 at the next sweep: RGW's memstore holds them in RAM
            return outcome

    lists, aggregates, uploads = await asyncio.gather(
        closed_loop(list_call, clients=clients // 2, seconds=seconds),
        closed_loop(aggregate_call, clients=clients - clients // 2, seconds=seconds),
        closed_loop(upload_call, clients=uploaders, seconds=seconds),
    )
    return Flood(lists, aggregates, uploads)


async def tenants(
    instance: Instance, *, clients: int, uploaders: int, seconds: float
) -> tuple[Calls, Calls, Flood]:
    """The victim's GETs idle, then under the flood: (idle, flooded, the flood's own calls)."""
    victim, flood = instance.tenants["victim"], instance.tenants["flood"]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url=instance.url, connector=connector) as http:
        for tenant in (victim, flood):
            await make_bucket(instance, tenant, properties=("doc", "data"))
        ids = await _seed(http, victim, VICTIM_OBJECTS)
        await _seed(http, flood, FLOOD_OBJECTS)
        print(f"part 3: the victim alone for {seconds:g} s", file=sys.stderr, flush=True)
        idle = await _victim(http, victim, ids, seconds)
        print(f"part 3: the victim under the flood for {seconds:g} s", file=sys.stderr, flush=True)
        flooded, flooding = await asyncio.gather(
            _victim(http, victim, ids, seconds),
            _flood(http, flood, clients=clients, uploaders=uploaders, seconds=seconds),
        )
    return idle, flooded, flooding


def report(idle: Calls, flooded: Calls, flood: Flood, *, clients: int, uploaders: int) -> float:
    """Prints part 3; returns the victim's p99 under the flood over its idle p99."""
    print(
        f"\n3. A victim organization's GET (REST, {VICTIM_CLIENTS} clients, closed loop) alone, "
        f"then while another floods: {clients} clients listing (100 of {FLOOD_OBJECTS}, filtered "
        f"and sorted) and aggregating, and {uploaders} streaming {UPLOAD_MIB} MiB uploads"
    )
    rows: list[tuple[str, Calls]] = [
        ("victim GET, idle", idle), ("victim GET, under the flood", flooded),
        ("flood: list", flood.lists), ("flood: aggregate", flood.aggregates),
        ("flood: upload", flood.uploads),
    ]  # fmt: skip
    table(
        ["calls", "per s", "p50 ms", "p99 ms", "ok", "errors"],
        [
            [name, f"{c.rate:.1f}", f"{c.ms(0.5):.1f}", f"{c.ms(0.99):.1f}",
             str(len(c.latencies)), c.errors()]
            for name, c in rows
        ],
    )  # fmt: skip
    return flooded.ms(0.99) / idle.ms(0.99)
