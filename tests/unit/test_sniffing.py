"""Sniffing trusts signatures of 3 bytes or more: random bytes are no SDP, MP3 or JSON file."""

from __future__ import annotations

import random

import pytest

from bucketd.server.domain.mime import OCTET_STREAM, sniff
from tests.e2e.objects_support import PDF, PNG

JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")
RANDOM_TAIL = bytes(range(128, 256)) * 8  # not UTF-8: no text/plain either


@pytest.mark.parametrize(
    ("head", "expected"),
    [(PNG, "image/png"), (PDF, "application/pdf"), (JPEG + RANDOM_TAIL, "image/jpeg")],
)
def test_real_signatures_are_recognised(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize("weak", [b"v=", b"\xff\xfb", b"{", b"\xff\xd8", b"P5", b"0\x82"])
def test_a_one_or_two_byte_signature_is_no_type(weak: bytes) -> None:
    """These matched random heads in the suite (application/sdp refused by a text field)."""
    assert sniff(weak + RANDOM_TAIL, filename="big.bin") == OCTET_STREAM


def test_random_bytes_stay_untyped() -> None:
    # seeded: unseeded bytes now and then begin with a real format's magic number (a flake)
    typed = [sniff(random.Random(i).randbytes(8192), filename="big.bin") for i in range(3000)]
    assert {t for t in typed if t != OCTET_STREAM} == set()
