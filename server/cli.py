"""The `bucketd` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys

from bucketd import logs
from bucketd.gateway.app import running_gateway
from bucketd.gateway.settings import GatewaySettings
from bucketd.server import keys_cli
from bucketd.server.app import running_server
from bucketd.server.errors import BucketdError
from bucketd.server.services.bootstrap import DEV_NAMESPACE, bootstrap_dev, check_dev_key
from bucketd.server.settings import Settings, SettingsError

log = logging.getLogger("bucketd")

STANDIN_CREDENTIALS = "bucketd-standin"  # moto accepts any key; botocore needs one to sign


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bucketd",
        description="Self-hostable object-ingestion service: gRPC API plus a REST gateway.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the gRPC server and the REST gateway",
        description=(
            "Run the gRPC server and the REST gateway. Without MONGODB_URI (or S3_ENDPOINT_URL) "
            "a stand-in MongoDB (or S3) server is started in a child process: nothing is kept "
            "across restarts in that mode."
        ),
    )
    serve.add_argument("--grpc-port", type=int, default=50051, help="gRPC port (default 50051)")
    serve.add_argument("--http-port", type=int, default=8080, help="REST port (default 8080)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for all)"
    )
    keys_cli.add_commands(commands)
    return parser


def _with_standins(settings: Settings, stack: contextlib.ExitStack) -> Settings:
    """Start a stand-in for each store that is not configured, and point settings at it."""
    if settings.mongodb_uri and settings.s3_endpoint_url:
        return settings
    try:
        import mongoeco  # noqa: F401, PLC0415
        import moto  # noqa: F401, PLC0415
    except ImportError as error:
        raise SystemExit(
            f"bucketd: set MONGODB_URI and S3_ENDPOINT_URL, or install the stand-ins with "
            f"`pip install 'bucketd[standins]'` ({error})"
        ) from None
    from bucketd.standins.launch import mongo_standin, s3_standin  # noqa: PLC0415

    if not settings.mongodb_uri:
        uri = stack.enter_context(mongo_standin())
        log.warning(
            "MONGODB_URI is not set: using a stand-in MongoDB (mongoeco, in memory) at %s; "
            "nothing is kept across restarts",
            uri,
        )
        settings = dataclasses.replace(settings, mongodb_uri=uri)
    if not settings.s3_endpoint_url:
        endpoint = stack.enter_context(s3_standin())
        log.warning(
            "S3_ENDPOINT_URL is not set: using a stand-in S3 (moto) at %s; "
            "nothing is kept across restarts",
            endpoint,
        )
        settings = dataclasses.replace(settings, s3_endpoint_url=endpoint)
        if not settings.aws_access_key_id:
            settings = dataclasses.replace(
                settings,
                aws_access_key_id=STANDIN_CREDENTIALS,
                aws_secret_access_key=STANDIN_CREDENTIALS,
            )
    return settings


def _dial_host(host: str) -> str:
    return "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host


async def _serve(
    settings: Settings,
    gateway: GatewaySettings,
    *,
    host: str,
    grpc_port: int,
    http_port: int,
    bootstrap: bool,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_server(settings, host=host, port=grpc_port) as server:
        target = f"{_dial_host(host)}:{server.address.rsplit(':', 1)[1]}"
        async with running_gateway(target, gateway, host=host, port=http_port) as url:
            log.info("bucketd serving gRPC on %s and REST on %s", server.address, url)
            print(f"gRPC: {server.address}\nREST: {url}", flush=True)
            if bootstrap:
                await server.wait_ready()
                key = await bootstrap_dev(
                    server.services.api_keys, server.services.namespaces, settings.dev_api_key
                )
                print(f"API key: {key}\nNamespace: {DEV_NAMESPACE}", flush=True)
            await stop.wait()
            log.info(
                "shutting down: finishing in-flight calls (grace %.0fs)",
                settings.shutdown_grace_seconds,
            )


def serve(args: argparse.Namespace, settings: Settings, gateway: GatewaySettings) -> int:
    try:
        check_dev_key(settings.dev_api_key)
    except BucketdError as error:
        print(f"bucketd: {error.message}", file=sys.stderr)
        return 2
    bootstrap = settings.mongodb_uri is None  # stand-in mode: make curl work at once
    with contextlib.ExitStack() as standins:
        settings = _with_standins(settings, standins)
        asyncio.run(
            _serve(
                settings,
                gateway,
                host=args.host,
                grpc_port=args.grpc_port,
                http_port=args.http_port,
                bootstrap=bootstrap,
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        gateway = GatewaySettings.from_env()
    except SettingsError as error:
        print(f"bucketd: {error}", file=sys.stderr)
        return 2
    logs.configure(log_format=settings.log_format, level=settings.log_level)
    if args.command == "keys":
        return keys_cli.run(args, settings)
    return serve(args, settings, gateway)


if __name__ == "__main__":
    sys.exit(main())
