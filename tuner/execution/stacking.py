"""Which stacked towers the active backend trains: `stacked_towers(...)` makes them.

`tuner.execution.stacked` holds the towers (and their TensorFlow training step) and
`tuner.execution.stacked_jax` their JAX subclass, which imports the first; choosing between
them here, rather than in the base class, keeps the two modules free of an import cycle.
"""

from __future__ import annotations

import keras
import numpy as np

from tuner import backends
from tuner.execution.stacked import StackedTowers


def stacked_towers(
    template: keras.Model,
    size: int,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    batch_size: int,
    validation_batch: int = 1024,
) -> StackedTowers:
    """`size` towers of `template`'s architecture on the active backend: `JaxStackedTowers` on
    JAX, else `StackedTowers` (which raises `NotStackable` on a backend that cannot stack)."""
    cls: type[StackedTowers] = StackedTowers
    if backends.active() == backends.JAX:
        # Imported only here: it imports JAX, which the other backends may not have.
        from tuner.execution.stacked_jax import JaxStackedTowers

        cls = JaxStackedTowers
    return cls(
        template,
        size,
        x_train,
        y_train,
        x_val,
        y_val,
        batch_size=batch_size,
        validation_batch=validation_batch,
    )
