"""Keep large freed CPU buffers for reuse (glibc), so that big activations cost no page faults.

glibc's ``malloc`` serves a block above its mmap threshold (128 KiB, raised as blocks are
freed, to at most 32 MiB) with a fresh ``mmap`` and unmaps it on ``free``. A CPU training step
allocates and frees the same large activations every step; each one above 32 MiB then comes
back as new pages that the kernel faults in and zeroes, one 4 KiB page at a time. For the tiny
P3D-C at batch 32 x 4x256x128 (its stem output alone is 64 MiB) that was 0.83 M page faults and
a third of the step's CPU time; at 128x64 most activations stay under 32 MiB, which is why
256x128 ran at half the FLOP rate of 128x64 (issue 18; ``bench/strf_overhead.py``).

:func:`reuse_freed_memory` serves every block from the heap and keeps freed memory there, so the
next step reuses the same pages. The process's resident memory then stays near its peak
instead of falling between steps. It is a setting of the whole process: the ``strf`` command
applies it at start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
# Freed memory at the top of the heap is returned to the system only beyond this much (the
# largest value mallopt takes, an int).
KEEP_BYTES = 2**31 - 1
# Environment variables by which a user has tuned glibc's malloc already; then it is left alone.
USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") else None


def reuse_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep large freed blocks for reuse instead of unmapping them.

    Does nothing off Linux/glibc, and nothing when the environment already tunes malloc
    (``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_MMAP_THRESHOLD_`` or
    ``glibc.malloc`` in ``GLIBC_TUNABLES``).

    Returns:
        Whether the setting was applied.
    """
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = _libc()
    if libc is None:
        return False
    # mallopt returns 1 on success; both or neither, so the heap never trims what it keeps.
    if libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(KEEP_BYTES)) != 1:
        return False
    return libc.mallopt(M_MMAP_MAX, ctypes.c_int(0)) == 1
