"""A model's optimizer state (step count, slots), copied and given back with its weights.

Keras builds an optimizer's variables at its first step. Weights loaded into a model whose
optimizer is not built yet lose the saved optimizer state (Keras warns "Skipping variable
loading for optimizer ..."), and a model saved before its optimizer is built loads with that
warning. So the state goes wherever the weights go: a trial's best epoch, a Hyperband parent,
a kept model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np


def build_optimizer(model: Any) -> None:
    """Create the variables of `model`'s optimizer if it has none yet (a fresh compiled model)."""
    optimizer = getattr(model, "optimizer", None)
    if isinstance(optimizer, keras.optimizers.Optimizer) and not optimizer.built:
        optimizer.build(model.trainable_variables)


def optimizer_values(model: Any) -> list[np.ndarray] | None:
    """Copies of the values of `model`'s optimizer variables, in order (None: no built
    optimizer). A stand-in for a model may give its own (`get_optimizer_values`)."""
    own = getattr(model, "get_optimizer_values", None)
    if own is not None:
        values: list[np.ndarray] | None = own()
        return values
    optimizer = getattr(model, "optimizer", None)
    if not isinstance(optimizer, keras.optimizers.Optimizer) or not optimizer.built:
        return None
    return [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables]


def set_optimizer_values(model: Any, values: Sequence[Any]) -> None:
    """Give `model`'s optimizer these values (from `optimizer_values` of a model of its
    architecture), building its variables first if need be."""
    build_optimizer(model)
    variables = model.optimizer.variables
    shapes = [tuple(v.shape) for v in variables]
    given = [tuple(np.shape(value)) for value in values]
    if shapes != given:
        raise ValueError(
            f"optimizer state of {len(given)} variables {given} does not fit "
            f"{model.optimizer.name}'s {len(shapes)} variables {shapes}"
        )
    for variable, value in zip(variables, values):
        variable.assign(np.asarray(value, dtype=variable.dtype))
