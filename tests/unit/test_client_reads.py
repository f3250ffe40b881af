"""A resumed read must serve the blob its first call served (client/reads.py)."""

from __future__ import annotations

import pytest

from bucketd.client.reads import Corrupted, _same_blob
from bucketd.v1 import objects_pb2 as pb


def _metadata(digest: str, size: int) -> pb.ReadObjectMetadata:
    served = pb.ReadObjectMetadata(read_offset=0, read_length=size)
    served.details.hash, served.details.size_bytes = digest, size
    return served


def test_a_resumed_read_of_the_same_blob_keeps_the_first_calls_metadata() -> None:
    first = _metadata("sha256:" + "a" * 64, 10)
    assert _same_blob(None, first) is first
    assert _same_blob(first, _metadata("sha256:" + "a" * 64, 10)) is first


def test_a_blob_replaced_between_the_cut_and_the_resume_is_refused() -> None:
    first = _metadata("sha256:" + "a" * 64, 10)
    with pytest.raises(Corrupted, match="changed while it was read"):
        _same_blob(first, _metadata("sha256:" + "b" * 64, 10))
    with pytest.raises(Corrupted, match="changed while it was read"):
        _same_blob(first, _metadata("sha256:" + "a" * 64, 11))
