"""Regularizers whose factor lives in a variable, so that a compiled model can take another
factor without its training function being traced again (see `tuner.model_reuse`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

REGULARIZER_ATTRIBUTES = ("kernel_regularizer", "bias_regularizer", "activity_regularizer")


@keras.saving.register_keras_serializable(package="tuner")
class VariableL2(keras.regularizers.L2):
    """`keras.regularizers.L2` with the factor in a non-trainable variable.

    Computes ``l2 * sum(square(x))`` exactly as `L2` does, with the same config
    (``{"l2": value}``). Save models inside `plain_regularizers` so that plain Keras loads them.
    """

    def __init__(self, l2: float = 0.01):
        self.variable = keras.Variable(0.0, trainable=False, dtype="float32", name="l2")
        super().__init__(l2)  # validates the factor, then sets it through the property below

    @property
    def l2(self) -> float:
        return float(keras.ops.convert_to_numpy(self.variable))

    @l2.setter
    def l2(self, value: float) -> None:
        self.variable.assign(float(value))

    def __call__(self, x: Any) -> Any:
        factor = keras.ops.cast(self.variable, keras.backend.standardize_dtype(x.dtype))
        return factor * keras.ops.sum(keras.ops.square(x))


def variable_l2s(model: keras.Model) -> list[tuple[keras.layers.Layer, str, VariableL2]]:
    """Every `VariableL2` of the model's layers: (layer, attribute, regularizer)."""
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for attribute in REGULARIZER_ATTRIBUTES:
            regularizer = getattr(layer, attribute, None)
            if isinstance(regularizer, VariableL2):
                found.append((layer, attribute, regularizer))
    return found


@contextmanager
def plain_regularizers(model: keras.Model) -> Iterator[keras.Model]:
    """The model with Keras' own `L2` (same factor) in place of each `VariableL2`, for saving:
    the file then loads with ``keras.models.load_model`` alone, without this package."""
    swapped = variable_l2s(model)
    for layer, attribute, regularizer in swapped:
        setattr(layer, attribute, keras.regularizers.L2(regularizer.l2))
    try:
        yield model
    finally:
        for layer, attribute, regularizer in swapped:
            setattr(layer, attribute, regularizer)
