"""A campaign's data fingerprint: what resuming compares, so that trials trained on other data
are never ranked with the campaign's own.

One entry per array of the `Dataset` (the arrays the trials train, validate and are tested
on, after loading: a ``csv:`` or ``npz:`` file's edits show, and before standardisation, whose
statistics may differ in their last bits between machines): its shape, dtype and a hash of its
bytes. 5,000 MNIST images (16 MB) take about 40 ms.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tuner.datasets import Dataset

ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")

Fingerprint = dict[str, dict[str, Any]]


def array_fingerprint(array: np.ndarray) -> dict[str, Any]:
    """The shape, dtype and hash of one array's contents."""
    array = np.asarray(array)
    # Not for security: a changed array must show, and SHA-1 is the fastest in hashlib here.
    digest = hashlib.sha1(usedforsecurity=False)
    if array.dtype.hasobject:  # strings or mixed objects: no fixed-size bytes to hash
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(array).data)
    return {"shape": list(array.shape), "dtype": str(array.dtype), "sha1": digest.hexdigest()}


def arrays_fingerprint(**arrays: np.ndarray) -> Fingerprint:
    """The fingerprint of each array, by name."""
    return {name: array_fingerprint(array) for name, array in arrays.items()}


def data_fingerprint(dataset: Dataset) -> Fingerprint:
    """The fingerprint of every array of `dataset`, by name (``x_train``, ``y_train``, ...):
    the one it was loaded with (of its arrays before standardisation), else its arrays'."""
    kept = getattr(dataset, "fingerprint", None)
    if kept is not None:
        return dict(kept)
    return arrays_fingerprint(**{name: getattr(dataset, name) for name in ARRAYS})


def data_changes(now: Fingerprint, before: Fingerprint) -> list[str]:
    """What differs between two fingerprints, one phrase per array (empty when none)."""
    changes = []
    for name in ARRAYS:
        a, b = now.get(name), before.get(name)
        if a == b:
            continue
        if a is None or b is None:
            changes.append(f"{name} {'is new' if b is None else 'is gone'}")
        elif a["shape"] != b["shape"]:
            changes.append(f"{name} has shape {_shape(a)}, was {_shape(b)}")
        elif a["dtype"] != b["dtype"]:
            changes.append(f"{name} has dtype {a['dtype']}, was {b['dtype']}")
        else:
            changes.append(f"{name} holds other values")
    return changes


def _shape(entry: dict[str, Any]) -> str:
    return str(tuple(entry["shape"]))


__all__ = [
    "ARRAYS",
    "Fingerprint",
    "array_fingerprint",
    "arrays_fingerprint",
    "data_changes",
    "data_fingerprint",
]
