"""bucketd.heap: a chunk-sized buffer comes from the heap once the thresholds are set, where
glibc's defaults give it a mapping of its own (each in a fresh interpreter: the settings are
process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

WHERE_A_CHUNK_LIVES = """
import ctypes, sys
from bucketd import heap
if sys.argv[1] == "keep":
    assert heap.keep_chunk_buffers()
chunk = bytearray(2 * 1024 * 1024)
address = ctypes.addressof((ctypes.c_char * len(chunk)).from_buffer(chunk))
for line in open("/proc/self/maps"):
    span, *fields = line.split()
    start, end = (int(bound, 16) for bound in span.split("-"))
    if start <= address < end:
        print(fields[4] if len(fields) == 5 else "a mapping of its own")
"""


def _where_a_chunk_lives(mode: str, **env: str) -> str:
    reply = subprocess.run(
        [sys.executable, "-c", WHERE_A_CHUNK_LIVES, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return reply.stdout.strip()


def test_glibcs_defaults_give_a_chunk_a_mapping_of_its_own() -> None:
    assert _where_a_chunk_lives("default") == "a mapping of its own"


def test_kept_chunk_buffers_come_from_the_heap() -> None:
    assert _where_a_chunk_lives("keep") == "[heap]"


def test_malloc_tunables_set_by_the_operator_win() -> None:
    env = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}
    with pytest.raises(subprocess.CalledProcessError):  # keep_chunk_buffers() answers False
        _where_a_chunk_lives("keep", **env)
    assert _where_a_chunk_lives("default", **env) == "a mapping of its own"
