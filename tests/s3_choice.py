"""Which S3 a test session talks to (tests/conftest.py starts it; some tests need to know)."""

from __future__ import annotations

import os

from bucketd.standins import ceph


def s3_kind() -> str:
    """Which S3 the session uses: S3_ENDPOINT_URL's; else Ceph's RADOS Gateway when Debian's
    packages are installed (a real S3: signatures, Content-MD5, part sizes are checked); else
    moto. BUCKETD_TEST_S3=moto (or =rgw) chooses."""
    if os.environ.get("S3_ENDPOINT_URL"):
        return "configured"
    chosen = os.environ.get("BUCKETD_TEST_S3", "").lower()
    if chosen in {"moto", "rgw"}:
        return chosen
    return "rgw" if ceph.available() else "moto"
