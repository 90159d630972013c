"""Give freed memory back to the operating system.

glibc's allocator keeps the memory of freed small blocks inside its arenas; a long campaign
that builds and drops thousands of models leaves them fragmented, and resident memory creeps
up although nothing live grows. `malloc_trim(0)` returns every whole free page. Elsewhere (no
glibc: macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def trim() -> bool:
    """Return free heap pages to the OS; True where the C library could (glibc)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
