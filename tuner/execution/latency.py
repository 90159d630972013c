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
    """Milliseconds a prediction of `model` takes per sample of `batch`: the median of
    `repeats` timed ``predict_on_batch`` calls (which return NumPy arrays, so a GPU's work is
    counted), after one untimed call that compiles the predict step.

    Compiled, as a model is served, rather than a direct eager call: on a 6x100 MLP and 32
    samples the eager call took 13-15 ms, nearly all Python dispatch, the compiled one 1.2-2.3
    ms, so only the latter tells architectures apart. Its compile (about 80 ms there) is paid
    once per compiled model: the trials of one architecture share theirs (compiled-model
    reuse, packs). None when the model cannot predict on the batch (a builder of the user's
    with other inputs): the trial is not failed for it."""
    if batch is None or not len(batch):
        return None
    try:
        model.predict_on_batch(batch)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict_on_batch(batch)
            times.append(time.perf_counter() - started)
    except Exception:  # a model that cannot run on this batch: no latency, not a failed trial
        return None
    return 1000.0 * statistics.median(times) / len(batch)


__all__ = ["latency_ms", "batch_for_latency", "SAMPLES", "REPEATS"]
