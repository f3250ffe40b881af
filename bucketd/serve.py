"""`bucketd serve` (the gRPC server and the REST gateway, with the stand-ins when none is
configured, in one process or supervised workers) and `bucketd keys`: the commands that run
the server side. bucketd/cli.py dispatches to them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from bucketd import heap, logs
from bucketd.gateway.settings import GatewaySettings
from bucketd.listeners import PortInUse
from bucketd.process import Listen, Process, running_process
from bucketd.server import keys_cli
from bucketd.server.domain.keys import generate_key
from bucketd.server.errors import BucketdError
from bucketd.server.services.bootstrap import DEV_NAMESPACE, bootstrap_dev, check_dev_key
from bucketd.server.settings import Settings, SettingsError
from bucketd.server.workers import Supervisor, die_with_parent
from bucketd.tls import TlsFiles

log = logging.getLogger("bucketd")

STANDIN_CREDENTIALS = "bucketd-standin"  # moto accepts any key; botocore needs one to sign


COMMANDS = frozenset({"serve", "keys"})


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        choices=range(1, 65),
        metavar="N",
        help="server processes sharing the ports (SO_REUSEPORT), supervised: a dead one is "
        "restarted, SIGTERM drains them all (default 1; the ports must not be 0)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve GET /metrics on this port only, not on the (public) REST port",
    )
    # Set by the supervisor of --workers on each worker it starts.
    serve.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--bootstrap-dev", action="store_true", help=argparse.SUPPRESS)
    keys_cli.add_commands(commands)


def _half_configured(settings: Settings) -> str | None:
    """Why one configured store and one stand-in must not start by accident: the stand-in's
    records or bytes vanish at the next restart while the other store keeps its half."""
    if bool(settings.mongodb_uri) == bool(settings.s3_endpoint_url):
        return None
    missing, variable, wanted = (
        ("MongoDB", "MONGODB_URI", "mongodb")
        if not settings.mongodb_uri
        else ("S3", "S3_ENDPOINT_URL", "s3")
    )
    if settings.standin == wanted:
        return None
    kept = "bytes" if wanted == "s3" else "records"
    return (
        f"{variable} is not set while the other store is: bucketd would keep the {kept} in an "
        f"in-memory stand-in {missing} and lose them at the next restart. Set {variable} "
        f"(check its spelling), or BUCKETD_STANDIN={wanted} to run with the stand-in on purpose"
    )


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


async def _serve(
    settings: Settings, gateway: GatewaySettings, listen: Listen, *, bootstrap: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_process(settings, gateway, listen) as process:
        log.info("bucketd serving gRPC on %s and REST on %s", process.address, process.url)
        print(f"gRPC: {process.address}\nREST: {process.url}", flush=True)
        if bootstrap:
            await _bootstrap(process, settings)
        hint = None if bootstrap else asyncio.create_task(_hint_first_key(process))
        await stop.wait()
        if hint is not None:
            hint.cancel()


async def _bootstrap(process: Process, settings: Settings) -> None:
    """Stand-in mode: a key and a namespace at once, printed for curl."""
    await process.wait_ready()
    services = process.services
    key = await bootstrap_dev(services.api_keys, services.namespaces, settings.dev_api_key)
    print(f"API key: {key}\nNamespace: {DEV_NAMESPACE}", flush=True)
    print(_standin_hints(settings), flush=True)


async def _hint_first_key(process: Process) -> None:
    """A first production run has no key yet: say how to make one."""
    await process.wait_ready()
    with contextlib.suppress(BucketdError):
        if not await process.services.api_keys.any_active():
            log.warning(
                "no API key exists yet: make one with `bucketd keys create --org NAME` "
                "(same MONGODB_URI and MONGODB_DATABASE as this server)"
            )


def _standin_hints(settings: Settings) -> str:
    """Ready-to-paste lines for `bucketd keys` against this run's stand-ins."""
    command = Path(sys.executable).parent / "bucketd"
    return "\n".join(
        [
            "# Stand-in mode keeps nothing across restarts. To issue keys against this run:",
            f"export MONGODB_URI='{settings.mongodb_uri}'",
            f"{command if command.exists() else 'bucketd'} keys create --org default --test"
            "  # the quick start's organization: its key sees the same namespaces",
        ]
    )


def _check(settings: Settings) -> str | None:
    """What is wrong with the settings `serve` needs, in one line; None when nothing is."""
    if settings.s3_endpoint_url and not os.environ.get("S3_BUCKET"):
        return (
            "S3_BUCKET is required with S3_ENDPOINT_URL: bucket names are global on AWS, so "
            "bucketd does not pick one for you (it creates the bucket at start-up if missing)"
        )
    half = _half_configured(settings)
    if half is not None:
        return half
    try:
        check_dev_key(settings.dev_api_key)
        TlsFiles.of(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)
    except BucketdError as error:
        return error.message
    except SettingsError as error:
        return str(error)
    return None


def serve(args: argparse.Namespace, settings: Settings, gateway: GatewaySettings) -> int:
    problem = _check(settings)
    if problem is not None:
        print(f"bucketd: {problem}", file=sys.stderr)
        return 2
    listen = Listen(
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        metrics_port=args.metrics_port,
        reuse_port=args.worker_index is not None,
    )
    if args.workers > 1:
        return _supervise(args, settings, listen)
    if args.worker_index is not None:
        die_with_parent()
        bootstrap = args.bootstrap_dev and args.worker_index == 0
    else:
        bootstrap = settings.mongodb_uri is None  # stand-in mode: make curl work at once
    heap.keep_chunk_buffers()
    with contextlib.ExitStack() as standins:
        settings = _with_standins(settings, standins)
        try:
            asyncio.run(_serve(settings, gateway, listen, bootstrap=bootstrap))
        except PortInUse as error:
            print(f"bucketd: {error}", file=sys.stderr)
            return 2
    return 0


def _supervise(args: argparse.Namespace, settings: Settings, listen: Listen) -> int:
    """--workers N: the stand-ins once, then N workers on the same ports."""
    if 0 in {listen.grpc_port, listen.http_port, listen.metrics_port}:
        print("bucketd: --workers needs fixed ports (not 0): they share them", file=sys.stderr)
        return 2
    bootstrap = settings.mongodb_uri is None
    with contextlib.ExitStack() as stack:
        settings = _with_standins(settings, stack)
        metrics_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bucketd-metrics-"))
        env = {
            **os.environ,
            "MONGODB_URI": settings.mongodb_uri or "",
            "S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
            "S3_BUCKET": settings.s3_bucket,
            "AWS_ACCESS_KEY_ID": settings.aws_access_key_id or "",
            "AWS_SECRET_ACCESS_KEY": settings.aws_secret_access_key or "",
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            # Each worker holds its uploads in its own memory: a share of the budget each.
            "BUCKETD_MEMORY_BUDGET_BYTES": str(
                max(settings.memory_budget_bytes // args.workers, 64 * 1024 * 1024)
            ),
        }
        argv = [
            sys.executable, "-m", "bucketd", "serve", "--host", listen.host,
            "--grpc-port", str(listen.grpc_port), "--http-port", str(listen.http_port),
        ]  # fmt: skip
        if listen.metrics_port is not None:
            argv += ["--metrics-port", str(listen.metrics_port)]
        if bootstrap:  # worker 0 makes the stand-in key, the same one after a restart
            env["BUCKETD_DEV_API_KEY"] = settings.dev_api_key or generate_key(test=True)
            argv.append("--bootstrap-dev")
        log.info("starting %d workers", args.workers)
        return Supervisor(argv, args.workers, env).run(settings.shutdown_grace_seconds)


def run(args: argparse.Namespace) -> int:
    """Run `serve` or `keys` with the server's settings (exit 2 when they are wrong)."""
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
