"""reuse_freed_memory: a large block freed and allocated again costs no new page faults.

Each case runs in a subprocess of its own: the setting is one of the whole process.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Allocates, writes and frees a 64 MiB block (above glibc's largest mmap threshold, 32 MiB,
# like a 4x256x128 batch's stem output) twice; prints whether the setting was applied and the
# minor page faults of the second round.
SCRIPT = """
import ctypes, resource, sys
from strf_core.allocator import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "reuse" else None
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
size = 64 << 20
def round_trip():
    ptr = libc.malloc(size)
    ctypes.memset(ptr, 1, size)
    libc.free(ptr)
round_trip()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_trip()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

PAGES = (64 << 20) // 4096

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's malloc and getrusage page faults"
)


def _run(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        env=clean | env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], int(out[1])


def test_freed_large_block_is_reused_without_page_faults():
    applied, faults = _run("reuse")
    assert applied == "True"
    assert faults < PAGES // 20  # the pages stayed in the heap


def test_without_it_every_large_block_comes_back_as_fresh_pages():
    # What the setting fixes: glibc maps a block above 32 MiB anew on each allocation.
    _, faults = _run("default")
    assert faults > PAGES // 2


def test_a_users_own_malloc_settings_are_left_alone():
    applied, faults = _run("reuse", MALLOC_MMAP_MAX_="65536")
    assert applied == "False"
    assert faults > PAGES // 2
