"""The `bucketd` command: `serve` and `keys` run the server and the gateway (bucketd/serve.py),
`put`, `get` and `ls` the Python client (client/cli.py); neither side imports the other."""

from __future__ import annotations

import argparse
import sys

from bucketd import serve
from bucketd.client import cli as client_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bucketd",
        description="Self-hostable object-ingestion service: gRPC API plus a REST gateway.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_commands(commands)
    client_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in client_cli.COMMANDS:  # a client: the server's settings do not apply
        return client_cli.run(args)
    return serve.run(args)


if __name__ == "__main__":
    sys.exit(main())
