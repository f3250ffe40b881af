"""glibc's malloc, set for a server whose messages are megabytes.

By default glibc serves each allocation above a moving threshold (128 KiB at first) with a
fresh mmap, and gives free memory at the top of the heap back to the kernel past another. A
stream's 1-2 MiB chunks, kept until their 16 MiB part is in S3 and then freed together, kept
crossing both: the next chunks were new pages, for the kernel to fault in and zero. Measured
with bench/upload.py's per-process CPU on Ceph's RGW, the gRPC route spent ~0.1 CPU-s per GiB
less with the fixed thresholds below (the main thread's system time 0.42-0.54 -> 0.32-0.42),
and 0.3-0.5 less with S3 taken out of the measure. A GLIBC_TUNABLES that sets malloc's own
wins: then nothing is changed here.
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 4 * 1024 * 1024  # above the largest chunk (2 MiB): chunks come from the heap
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024  # above two 16 MiB parts of chunks freed at once


def keep_chunk_buffers() -> bool:
    """Keep chunk-sized buffers in the heap for reuse; whether the thresholds were set (not
    outside glibc, nor when GLIBC_TUNABLES sets malloc's own)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = ctypes.CDLL(None)
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
