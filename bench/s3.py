"""The S3 a benchmark runs against: Ceph's RADOS Gateway by default (a real S3, whose costs are
those of a production S3 rather than of a Python stand-in), moto with --s3 moto, or the server
S3_ENDPOINT_URL names (with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from bucketd.standins import ceph
from bucketd.standins.launch import s3_server


@dataclass(frozen=True)
class S3:
    kind: str
    url: str
    access_key: str
    secret_key: str
    pids: tuple[int, ...]  # the S3 server's processes, when this script started them


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--s3",
        choices=("rgw", "moto"),
        default="rgw" if ceph.available() else "moto",
        help="the S3 server to start (default: Ceph's RGW when installed); S3_ENDPOINT_URL "
        "overrides both",
    )


@contextlib.contextmanager
def s3_for(kind: str) -> Iterator[S3]:
    configured = os.environ.get("S3_ENDPOINT_URL")
    if configured:
        access = os.environ.get("AWS_ACCESS_KEY_ID", "bench")
        yield S3("configured", configured, access, os.environ.get("AWS_SECRET_ACCESS_KEY", ""), ())
    elif kind == "rgw":
        with ceph.ceph_s3() as rgw:
            yield S3("rgw", rgw.url, rgw.access_key, rgw.secret_key, rgw.pids)
    else:
        with s3_server() as moto:  # moto takes any key
            yield S3("moto", moto.url, "bench", "bench", (moto.process.pid,))
