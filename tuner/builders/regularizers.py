"""Regularizers whose factor lives in a variable, so that a compiled model can take another
factor without its training function being traced again (see `tuner.model_reuse`)."""
from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="tuner")
class VariableL2(keras.regularizers.L2):
    """`keras.regularizers.L2` with the factor in a non-trainable variable.

    Computes ``l2 * sum(square(x))`` exactly as `L2` does and saves the same config
    (``{"l2": value}``); loading a saved model needs ``import tuner`` (it registers the class).
    """

    def __init__(self, l2: float = 0.01):
        self.variable = keras.Variable(0.0, trainable=False, dtype="float32", name="l2")
        super().__init__(l2)  # validates the factor, then sets it through the property below

    @property
    def l2(self) -> float:  # type: ignore[override]
        return float(keras.ops.convert_to_numpy(self.variable))

    @l2.setter
    def l2(self, value: float) -> None:
        self.variable.assign(float(value))

    def __call__(self, x: Any) -> Any:
        factor = keras.ops.cast(self.variable, keras.backend.standardize_dtype(x.dtype))
        return factor * keras.ops.sum(keras.ops.square(x))
