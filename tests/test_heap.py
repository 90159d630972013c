"""heap.trim gives freed C-heap pages back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest

from tuner import heap


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc: Linux")
def test_trim_returns_the_pages_of_freed_blocks_that_a_live_block_pins() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4000) for _ in range(50_000)]  # ~200 MB below the mmap threshold
    for block in blocks:
        ctypes.memset(block, 1, 4000)  # touched, so resident
    pin = libc.malloc(4000)  # above the freed blocks: free() alone cannot shrink the heap
    for block in blocks:
        libc.free(block)
    before = _rss_kb()
    assert heap.trim()
    after = _rss_kb()
    libc.free(pin)
    assert before - after > 100_000  # most of the ~200 MB came back
