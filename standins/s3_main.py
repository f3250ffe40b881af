"""Child-process entry point: moto's S3 server, on a port the OS picks.

Prints ``READY <endpoint>`` on stdout once it listens, then serves until SIGTERM/SIGINT or until
its stdin closes (so it never outlives a parent that died without cleaning up).
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from moto.server import ThreadedMotoServer


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="moto binds 0.0.0.0 unless told")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit)
    print(f"READY http://{host}:{port}", flush=True)
    try:
        sys.stdin.buffer.read()  # returns at end of file: the parent is gone
    finally:
        server.stop()


if __name__ == "__main__":
    main()
