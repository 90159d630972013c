"""Regularizers whose factor lives in a variable, so that a compiled model can take another
factor without its training function being traced again (see `tuner.execution.model_reuse`)."""

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


def _factors(model: keras.Model) -> list[keras.Variable]:
    """The distinct factor variables of the model's `VariableL2`s, in layer order."""
    found: dict[int, keras.Variable] = {}
    for _, _, regularizer in variable_l2s(model):
        found.setdefault(id(regularizer.variable), regularizer.variable)
    return list(found.values())


def _held_as_state(model: keras.Model) -> list[keras.Variable]:
    return [v for v in _factors(model) if model._tracker.is_in_store("non_trainable_variables", v)]


def hold_factors_as_state(model: keras.Model) -> None:
    """Make every `VariableL2` factor one of the model's own non-trainable variables.

    A jitted JAX step takes the model's variables as its arguments and bakes any other variable
    it reads into the compiled program as a constant: without this, a compiled model given
    another factor (`tuner.execution.model_reuse`) would go on training with the first one.
    TensorFlow's traced functions read variables by reference and need none of it. The factors
    stay out of saved model files (`plain_regularizers`); weight files and ``get_weights()``
    include them.
    """
    held = {id(v) for v in _held_as_state(model)}
    locked = model._tracker.locked
    model._tracker.unlock()  # a built model refuses new state; the factor is state it reads
    try:
        for variable in _factors(model):
            if id(variable) not in held:
                model._track_variable(variable)
    finally:
        if locked:
            model._tracker.lock()


@contextmanager
def plain_regularizers(model: keras.Model) -> Iterator[keras.Model]:
    """The model with Keras' own `L2` (same factor) in place of each `VariableL2`, and no
    factor among its variables (`hold_factors_as_state`), for saving: the file then loads with
    ``keras.models.load_model`` alone, without this package."""
    held = _held_as_state(model)
    for variable in held:
        model._untrack_variable(variable)
    swapped = variable_l2s(model)
    for layer, attribute, regularizer in swapped:
        setattr(layer, attribute, keras.regularizers.L2(regularizer.l2))
    try:
        yield model
    finally:
        for layer, attribute, regularizer in swapped:
            setattr(layer, attribute, regularizer)
        if held:
            hold_factors_as_state(model)
