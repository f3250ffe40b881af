"""`python -m bench.load`: the parts in turn, then the measured ratios against the targets."""

from __future__ import annotations

import argparse
import asyncio

import bench.load
from bench import s3 as s3_choice
from bench.load import commands, creates, tenants, uploads
from bench.load.common import running
from bench.s3 import S3, s3_for

Check = tuple[str, float, float, str]  # what, measured, target, "≤" or "≥"


def _creates(s3: S3, args: argparse.Namespace) -> list[Check]:
    wanted = set(args.parts)
    concurrency = [args.clients] if 5 not in wanted else sorted({args.few, args.clients})
    with running(s3, organizations=("creates",)) as instance:
        runs = asyncio.run(creates.creates(instance, concurrency=concurrency, seconds=args.seconds))
    creates.report_creates(runs, args.seconds)
    if 5 not in wanted:
        return []
    return [(what, measured, target, "≥") for what, measured, target in creates.report_ratios(runs)]


def _tenants(s3: S3, args: argparse.Namespace) -> list[Check]:
    with running(s3, organizations=("victim", "flood")) as instance:
        idle, flooded, flood = asyncio.run(
            tenants.tenants(
                instance, clients=args.flood_clients, uploaders=args.flood_uploads,
                seconds=args.seconds,
            )
        )  # fmt: skip
    ratio = tenants.report(
        idle, flooded, flood, clients=args.flood_clients, uploaders=args.flood_uploads
    )
    return [("victim GET p99, flooded / idle", ratio, 2.0, "≤")]


def _uploads(s3: S3, args: argparse.Namespace) -> list[Check]:
    rows = uploads.uploads(s3, count=args.uploads, mib=args.mib)
    uploads.report(rows, count=args.uploads, mib=args.mib)
    capped = [row for row in rows if row.configuration == "1 GiB budget"]
    return [
        (f"peak RSS MiB, 1 GiB budget, {row.path}", row.peak / 2**20, 1024.0, "≤") for row in capped
    ]


def _commands(s3: S3, _: argparse.Namespace) -> list[Check]:
    counted = asyncio.run(commands.commands(s3))
    commands.report(counted)
    return [
        (f"MongoDB commands, {k}", float(m), float(commands.TARGET), "≤")
        for k, (m, _) in counted.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(bench.load.__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="each measured row's length")
    parser.add_argument("--clients", type=int, default=200, help="concurrent creates (parts 1, 5)")
    parser.add_argument("--few", type=int, default=16, help="part 5's lower concurrency")
    parser.add_argument("--uploads", type=int, default=50, help="uploads at once (part 2)")
    parser.add_argument("--mib", type=int, default=20, help="size of each upload (part 2)")
    parser.add_argument(
        "--flood-clients", type=int, default=32, help="listing/aggregating (part 3)"
    )
    parser.add_argument("--flood-uploads", type=int, default=2, help="uploading (part 3)")
    parser.add_argument(
        "--parts", type=int, nargs="+", default=[1, 2, 3, 4, 5], choices=range(1, 6)
    )
    s3_choice.add_argument(parser)
    args = parser.parse_args()
    checks: list[Check] = []
    with s3_for(args.s3) as s3:
        print(f"against {s3.kind} S3; {args.seconds:g} s per measured row")
        if {1, 5} & set(args.parts):
            checks += _creates(s3, args)
        if 2 in args.parts:
            checks += _uploads(s3, args)
        if 3 in args.parts:
            checks += _tenants(s3, args)
        if 4 in args.parts:
            checks += _commands(s3, args)
    print("\nAgainst the targets")
    for what, measured, target, sense in checks:
        met = measured <= target if sense == "≤" else measured >= target
        print(
            f"  {what}: {measured:.2f} (target {sense} {target:g}): {'met' if met else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
