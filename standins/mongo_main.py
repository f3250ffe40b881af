"""Child-process entry point: a MongoDB wire-protocol server (mongoeco, in-memory engine).

Prints ``READY <uri>`` on stdout once it listens, then serves until SIGTERM/SIGINT or until
its stdin closes (so it never outlives a parent that died without cleaning up).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading

from mongoeco.engines.memory import MemoryEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


def _stop_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    def wait() -> None:
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait, name="stdin-watch", daemon=True).start()


async def serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    proxy = AsyncMongoEcoProxyServer(engine=MemoryEngine(), host=host, port=port)
    await proxy.start()
    print(f"READY {proxy.address.uri}", flush=True)
    _stop_when_stdin_closes(loop, stop)
    try:
        await stop.wait()
    finally:
        await proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
