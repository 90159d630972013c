"""A trained model's prediction latency per sample: one cheap measurement every trial records
(``latency_ms``), so that a campaign may trade accuracy for speed (`tuner.objectives`)."""

from __future__ import annotations

import statistics
import time
from typing import Any

import keras
import numpy as np

SAMPLES = 32  # the fixed batch: the first validation samples (training ones when none)
REPEATS = 7  # timed calls after one untimed warm-up; their median is kept


def batch_for_latency(dataset: Any) -> np.ndarray | None:
    """The fixed batch every trial of a campaign is timed on (None: no samples)."""
    x = (
        dataset.x_val
        if getattr(dataset, "x_val", None) is not None and len(dataset.x_val)
        else None
    )
    x = dataset.x_train if x is None else x
    return None if x is None or not len(x) else np.asarray(x[:SAMPLES])


def latency_ms(
    model: keras.Model, batch: np.ndarray | None, repeats: int = REPEATS
) -> float | None:
    """Milliseconds a forward pass of `model` takes per sample of `batch`: the median of
    `repeats` timed calls (``model(batch, training=False)``, the result brought to the host so
    that a GPU's work is counted), after one warm-up. A direct call, not ``predict``: it traces
    nothing, so the measurement costs a few milliseconds rather than a compile. None when the
    model cannot be called on the batch (a builder of the user's with other inputs): the
    trial is not failed for it."""
    if batch is None or not len(batch):
        return None
    try:
        keras.ops.convert_to_numpy(model(batch, training=False))
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            keras.ops.convert_to_numpy(model(batch, training=False))
            times.append(time.perf_counter() - started)
    except Exception:  # a model that cannot run on this batch: no latency, not a failed trial
        return None
    return 1000.0 * statistics.median(times) / len(batch)


__all__ = ["latency_ms", "batch_for_latency", "SAMPLES", "REPEATS"]
