"""A TCP proxy in front of bucketd that misbehaves on purpose: it refuses connections, cuts one
after some bytes (sent, or received: a download), or throttles, so that clients meet real broken
connections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

READ_BYTES = 64 * 1024


@dataclass
class Faults:
    refuse_connections: int = 0  # close this many new connections at once
    cut_after_bytes: int | None = None  # cut the first connection after this many bytes sent
    cut_replies_after_bytes: int | None = None  # ...or after this many bytes it received
    bytes_per_second: float | None = None  # throttle what clients send
    connections: int = field(default=0, init=False)
    cuts: int = field(default=0, init=False)
    replied: int = field(default=0, init=False)  # bytes the clients received, in all


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, faults: Faults, *, upstream: bool
) -> None:
    """Copy until EOF, or until the cut (then return: the caller closes both sides)."""
    sent = 0
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(READ_BYTES):
            if upstream and faults.bytes_per_second:
                await asyncio.sleep(len(data) / faults.bytes_per_second)
            writer.write(data)
            await writer.drain()
            sent += len(data)
            if upstream and faults.cut_after_bytes is not None and sent >= faults.cut_after_bytes:
                faults.cut_after_bytes, faults.cuts = None, faults.cuts + 1
                return
            if upstream:
                continue
            faults.replied += len(data)
            cut = faults.cut_replies_after_bytes
            if cut is not None and sent >= cut:
                faults.cut_replies_after_bytes, faults.cuts = None, faults.cuts + 1
                return


@contextlib.asynccontextmanager
async def misbehaving_proxy(target: str, faults: Faults) -> AsyncIterator[str]:
    """`host:port` of a proxy to `target` (host:port) with these faults."""
    host, port = target.rsplit(":", 1)

    async def accept(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        faults.connections += 1
        if faults.refuse_connections > 0:
            faults.refuse_connections -= 1
            client.close()
            return
        server_reader, server = await asyncio.open_connection(host, int(port))
        pipes = [
            asyncio.create_task(_pipe(client_reader, server, faults, upstream=True)),
            asyncio.create_task(_pipe(server_reader, client, faults, upstream=False)),
        ]
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        for writer in (server, client):
            writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    address = server.sockets[0].getsockname()
    try:
        yield f"127.0.0.1:{address[1]}"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)
