"""`bucketd put`, `bucketd get`, `bucketd ls`: files in and out of buckets from a shell, over the
Python client (gRPC), with a progress bar on a terminal and exit codes that say what failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bucketd.client import reads
from bucketd.client.async_client import AsyncClient
from bucketd.client.errors import (
    Aborted,
    ApiError,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    describe,
)
from bucketd.client.progress_bar import progress_bar as _bar

COMMANDS = frozenset({"put", "get", "ls"})
DEFAULT_JOBS = 4  # files uploaded at once: streams share one connection
MAX_JOBS = 16
EXIT_CODES = """exit codes:
  0  done
  1  bucketd refused the call for another reason
  2  bad command line, or a local file that cannot be read or written
  3  not found (bucket, object, namespace)
  4  no valid API key, or not allowed
  5  bucketd could not be reached (after retries), took too long, or was busy with the
     same upload (run it again)
  6  bucketd refused the input (invalid, too large, precondition)
"""
_EXIT_BY_ERROR: list[tuple[type[BaseException], int]] = [
    (NotFound, 3),
    (Unauthenticated, 4),
    (PermissionDenied, 4),
    (Unavailable, 5),
    (DeadlineExceeded, 5),
    (Aborted, 5),
    (InvalidArgument, 6),
    (FailedPrecondition, 6),
    (ResourceExhausted, 6),
    (ApiError, 1),
    (OSError, 2),
]


def exit_code(error: BaseException) -> int:
    return next((code for kind, code in _EXIT_BY_ERROR if isinstance(error, kind)), 1)


def resume_dir() -> Path:
    """Where `put` remembers unfinished uploads, so that running it again continues them."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "bucketd" / "uploads"


def _connection_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument("--address", help="gRPC address (BUCKETD_ADDRESS; localhost:50051)")
    group.add_argument("--api-key", help="API key (BUCKETD_API_KEY)")
    group.add_argument(
        "--namespace", "-n", help="namespace name or ns_ id (BUCKETD_NAMESPACE; default)"
    )
    group.add_argument("--tls", action="store_true", default=None, help="use TLS (BUCKETD_TLS=1)")
    group.add_argument("--ca-file", help="CA certificate to trust (BUCKETD_TLS_CA_FILE)")
    output = common.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print JSON, one document per line")
    output.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bar (none off a terminal)"
    )
    return common


def add_commands(commands: Any) -> None:
    common = _connection_options()
    _add_put(commands, common)
    _add_get(commands, common)
    _add_ls(commands, common)


def _add_put(commands: Any, common: argparse.ArgumentParser) -> None:
    put = commands.add_parser(
        "put",
        parents=[common],
        help="upload files into a bucket (resumable)",
        description="Upload each PATH as a new object of the bucket, streamed over gRPC with its "
        "SHA-256 checked, up to --jobs files at once (a line per file as it finishes). An "
        "interrupted put continues from what bucketd kept when run again with the same "
        "arguments.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    put.add_argument("paths", nargs="+", metavar="PATH", type=Path)
    put.add_argument("--bucket", "-b", required=True, help="bucket name or bkt_ id")
    put.add_argument(
        "--property", "-p", help="schema property to fill (default: the bucket's only file one)"
    )
    put.add_argument("--type", help="blob type (default: the property's)")
    put.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"upload up to N files at once (1-{MAX_JOBS}; default {DEFAULT_JOBS})",
    )
    put.add_argument("--key-prefix", help="the object's key_prefix")
    put.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a user field (VALUE as JSON when it parses, else text); repeatable",
    )


def _add_get(commands: Any, common: argparse.ArgumentParser) -> None:
    get = commands.add_parser(
        "get",
        parents=[common],
        help="download an object's blob",
        description="Download a blob of an object (or a range of its bytes) through ReadObject: "
        "each slice's CRC32C and a whole blob's SHA-256 are checked, a broken stream resumed.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument("object_id", metavar="OBJECT_ID")
    get.add_argument("--bucket", "-b", required=True, help="bucket name or bkt_ id")
    get.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="PATH",  # a str: a trailing "/" says "a directory"
        help="the file to write, or a directory (existing, or ending in /) to write the blob "
        "under its stored filename, or - for stdout",
    )
    get.add_argument("--blob", type=int, default=0, help="which blob (default 0)")
    get.add_argument(
        "--range",
        type=byte_range,
        metavar="A-B|A-|-N",
        help="only these bytes, as HTTP's Range counts them: bytes A to B (inclusive), from A "
        "to the end, or the last N",
    )


def _add_ls(commands: Any, common: argparse.ArgumentParser) -> None:
    ls = commands.add_parser(
        "ls",
        parents=[common],
        help="list a bucket's objects",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ls.add_argument("--bucket", "-b", required=True, help="bucket name or bkt_ id")
    ls.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")


def byte_range(value: str) -> tuple[int, int]:
    """`--range` as ReadObject's (read_offset, read_limit): `A-B`, `A-` or `-N`."""
    first, dash, last = value.partition("-")
    digits = all(part.isascii() and part.isdigit() for part in (first, last) if part)
    if not dash or not digits or not (first or last):
        raise argparse.ArgumentTypeError(f"write A-B, A- or -N (whole numbers), not {value!r}")
    if not first:
        if int(last) == 0:
            raise argparse.ArgumentTypeError("-0 asks for no bytes: give -N with N at least 1")
        return -int(last), 0
    if last and int(last) < int(first):
        raise argparse.ArgumentTypeError(f"{value!r} ends before it starts")
    return int(first), int(last) - int(first) + 1 if last else 0


def _jobs(value: str) -> int:
    jobs = int(value) if value.isascii() and value.isdigit() else 0
    if not 1 <= jobs <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"give a whole number from 1 to {MAX_JOBS}, not {value!r}")
    return jobs


def _metadata(pairs: list[str]) -> dict[str, Any] | None:
    fields: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise InvalidArgument(f"--meta {pair!r}: write KEY=VALUE")
        try:
            fields[key] = json.loads(value)
        except ValueError:
            fields[key] = value
    return fields or None


def _client(args: argparse.Namespace) -> AsyncClient:
    return AsyncClient(
        args.address,
        api_key=args.api_key,
        namespace=args.namespace,
        tls=args.tls,
        ca_file=args.ca_file,
    )


async def _put(args: argparse.Namespace) -> int:
    """Each path uploaded by one of `--jobs` workers; the exit code is that of the first path
    (in the order given) that failed. A path given twice is uploaded twice, one after the other
    (both runs would share its resume state)."""
    metadata = _metadata(args.meta)
    lines = asyncio.Queue[int]()  # progress-bar lines free for the next file
    for line in range(args.jobs):
        lines.put_nowait(line)
    resolved = await asyncio.to_thread(lambda: [path.resolve() for path in args.paths])
    same_file = {real: asyncio.Lock() for real in resolved}

    async def put_one(client: AsyncClient, path: Path, real: Path) -> int:
        async with same_file[real]:
            line = await lines.get()  # the files start in the order given
            try:
                with _bar(path.name, quiet=args.quiet, resumable=True, line=line) as progress:
                    obj = await client.upload_file(
                        args.bucket,
                        path,
                        property=args.property,
                        type=args.type,
                        metadata=metadata,
                        key_prefix=args.key_prefix,
                        progress=progress,
                        resume_dir=resume_dir(),
                    )
            except (ApiError, OSError) as error:
                _fail(args, str(path), error)
                return exit_code(error)
            finally:
                lines.put_nowait(line)
        _done(args, path, obj)
        return 0

    async with _client(args) as client:
        codes = await asyncio.gather(
            *(put_one(client, path, real) for path, real in zip(args.paths, resolved, strict=True))
        )
    return next((code for code in codes if code), 0)


def _done(args: argparse.Namespace, path: Path, obj: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps({"path": str(path), "object": obj}), flush=True)
        return
    details = obj["blobs"][0]["details"]
    print(
        f"{path} -> {obj['object_id']} ({details['size_bytes']} bytes, {details['hash']})",
        flush=True,
    )


def _fail(args: argparse.Namespace, what: str, error: BaseException) -> None:
    if args.json:  # never into bytes written to stdout (`get -o -`)
        to_stdout = getattr(args, "output", None) == "-"
        print(
            json.dumps({"path": what, "error": describe(error)}),
            file=sys.stderr if to_stdout else sys.stdout,
        )
    print(f"bucketd: {what}: {error}", file=sys.stderr)


async def _get(args: argparse.Namespace) -> int:
    offset, limit = args.range or (0, 0)
    async with _client(args) as client:
        if args.output == "-":
            return await _get_to_stdout(args, client, offset=offset, limit=limit)
        with _bar(args.object_id, quiet=args.quiet) as progress:  # until the file is named
            path = await client.download(
                args.bucket,
                args.object_id,
                args.output,
                blob=args.blob,
                progress=progress,
                on_path=progress.relabel,  # a folder's file is named by the object
                offset=offset,
                limit=limit,
            )
    size = path.stat().st_size
    if args.json:
        print(json.dumps({"object_id": args.object_id, "path": str(path), "size_bytes": size}))
    else:
        print(f"{args.object_id} -> {path} ({size} bytes)")
    return 0


async def _get_to_stdout(
    args: argparse.Namespace, client: AsyncClient, *, offset: int, limit: int
) -> int:
    """The bytes on stdout as they arrive (nothing else goes there; --json's line goes to
    stderr); a resumed stream continues after the bytes already written."""
    request = reads.request_of(
        args.bucket, args.object_id, blob=args.blob, offset=offset, limit=limit
    )
    out = sys.stdout.buffer
    with _bar(args.object_id, quiet=args.quiet) as progress:
        served = await reads.read_into(
            client.stubs.objects, request, out, metadata=client.metadata(), progress=progress
        )
    out.flush()
    if args.json:
        line = {"object_id": args.object_id, "path": "-", "size_bytes": served.read_length}
        print(json.dumps(line), file=sys.stderr)
    return 0


async def _ls(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        listed = await client.list_objects(args.bucket, limit=args.limit)
    if args.json:
        for obj in listed["results"]:
            print(json.dumps(obj))
        return 0
    rows = _table(listed["results"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def _table(results: list[dict[str, Any]]) -> list[list[str]]:
    """`ls`'s rows, a header first; a TITLE column when an object has a (string) title."""
    titled = any(isinstance(obj.get("title"), str) for obj in results)
    rows = [["OBJECT", "STATUS", "BLOBS", "BYTES", "KEY PREFIX", "CREATED"] + ["TITLE"] * titled]
    for obj in results:
        size = sum(blob["details"]["size_bytes"] or 0 for blob in obj["blobs"])
        title = obj.get("title")
        row = [obj["object_id"], obj["status"], str(len(obj["blobs"])), str(size)]
        row += [obj.get("key_prefix") or "", obj["created_at"][:19]]
        rows.append(row + [title if isinstance(title, str) else ""] * titled)
    return rows


def run(args: argparse.Namespace) -> int:
    """Run put, get or ls; the exit code says what failed (see EXIT_CODES)."""
    command = {"put": _put, "get": _get, "ls": _ls}[args.command]
    try:
        return asyncio.run(command(args))
    except ValueError as error:  # no API key, and the like
        print(f"bucketd: {error}", file=sys.stderr)
        return 2
    except (ApiError, OSError) as error:
        _fail(args, args.command, error)
        return exit_code(error)
    except KeyboardInterrupt:
        print("bucketd: interrupted (a put continues where it stopped when run again)")
        return 130
