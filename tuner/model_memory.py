"""What training a model costs in memory, and what the machine has.

A float32 model of n parameters holds about `COPIES` copies of them while it trains (weights,
gradients, optimizer slots, the best epoch's weights, the saved model). The pack-size rule
keeps packs within a share of the memory available now; the MLP builder refuses a model that
could not train even alone, before Keras allocates it (a 40,000-unit range was OOM-killed
after two minutes instead of failing).
"""

from __future__ import annotations

import functools
import os

COPIES = 6
BYTES_PER_PARAM = 4  # float32


def training_bytes(n_params: int) -> int:
    """Bytes of memory that training a model of `n_params` parameters takes, about."""
    return int(n_params) * COPIES * BYTES_PER_PARAM


def available_memory() -> int | None:
    """Bytes of memory free now (None where the system does not say)."""
    return _sysconf_bytes("SC_AVPHYS_PAGES")


@functools.cache  # asked at every MLP build; a machine's memory does not change
def physical_memory() -> int | None:
    """Bytes of memory the machine has (None where the system does not say)."""
    return _sysconf_bytes("SC_PHYS_PAGES")


def _sysconf_bytes(pages: str) -> int | None:
    try:
        return os.sysconf(pages) * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
