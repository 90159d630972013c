"""What was done to the data before training, kept so a trained model can be used on raw data.

A `Preprocessing` records the task, the standardisation statistics (from the training split) and
the original label values. It turns a trained model into one that takes raw inputs
(`with_raw_inputs`) and model outputs into the original labels (`labels`). It is plain data:
`to_dict()` is JSON-able and `from_dict()` reads it back exactly. Keras is imported only when a
model is wrapped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tuner.errors import ConfigError

if TYPE_CHECKING:
    import keras

BINARY = "binary"
MULTICLASS = "multiclass"
MULTILABEL = "multilabel"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, MULTILABEL, REGRESSION)

Label = str | int | float | bool

_KEYS = ("task", "input_shape", "mean", "variance", "class_names")


@dataclass(frozen=True)
class Preprocessing:
    """The task, the standardisation and the label encoding a dataset went through.

    `mean` and `variance` are per feature, flattened in C order over `input_shape`; both are
    None when the inputs were not standardised. A feature that was constant in the training split
    has variance 1 (StandardScaler divides it by 1), so it is centred, not blown up.
    `class_names` are the original label values in the order of their codes (code i is
    ``class_names[i]``) for binary and multiclass tasks, the target column names for a multilabel
    task when they are known, otherwise None.
    """

    task: str
    input_shape: tuple[int, ...] = ()
    mean: list[float] | None = None
    variance: list[float] | None = None
    class_names: list[Label] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {list(TASKS)}, but got {self.task!r}.")
        if (self.mean is None) != (self.variance is None):
            raise ConfigError(
                "mean and variance must both be given or both be None, but got "
                f"only {'mean' if self.variance is None else 'variance'}."
            )
        if self.mean is not None and not len(self.mean) == len(self.variance or ()) == int(
            np.prod(self.input_shape)
        ):
            raise ConfigError(
                f"mean and variance must hold one value per feature of "
                f"input_shape {self.input_shape}, but got {len(self.mean)} and "
                f"{len(self.variance or ())}."
            )

    @property
    def standardized(self) -> bool:
        """Whether the model was trained on standardised inputs."""
        return self.mean is not None

    # -- plain data ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that `from_dict` reads back into an equal `Preprocessing`."""
        return {
            "task": self.task,
            "input_shape": list(self.input_shape),
            "mean": None if self.mean is None else list(self.mean),
            "variance": None if self.variance is None else list(self.variance),
            "class_names": None if self.class_names is None else list(self.class_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """The `Preprocessing` that `to_dict` described."""
        unknown = sorted(set(data) - set(_KEYS))
        if unknown or "task" not in data:
            raise ConfigError(
                f"a preprocessing record needs 'task' and accepts {list(_KEYS)}, "
                f"but got keys {sorted(data)}."
            )

        def floats(key: str) -> list[float] | None:
            values = data.get(key)
            return None if values is None else [float(v) for v in values]

        names = data.get("class_names")
        return cls(
            task=data["task"],
            input_shape=tuple(int(d) for d in data.get("input_shape", ())),
            mean=floats("mean"),
            variance=floats("variance"),
            class_names=None if names is None else list(names),
        )

    # -- using a trained model ----------------------------------------------------------------
    def with_raw_inputs(self, model: keras.Model) -> keras.Model:
        """`model` behind a `keras.layers.Normalization` holding the training statistics.

        The result takes raw inputs and predicts what `model` predicts on standardised ones; it
        holds only Keras' own layers, so `keras.models.load_model` opens it without this package.
        Without standardisation `model` itself is returned.
        """
        if self.mean is None or self.variance is None:
            return model
        import keras

        shape = self.input_shape
        normalize = keras.layers.Normalization(
            # one statistic per feature: every axis but the batch axis is kept
            axis=tuple(range(1, len(shape) + 1)) if shape else None,
            mean=np.reshape(self.mean, shape),
            variance=np.reshape(self.variance, shape),
            name="standardize",
        )
        inputs = keras.Input(shape=shape, name="raw_inputs")
        return keras.Model(inputs, model(normalize(inputs)), name=f"{model.name}_raw_inputs")

    def labels(self, predictions: np.ndarray) -> np.ndarray:
        """The labels a model's `predictions` stand for, in the original label values.

        multiclass: the class of the largest output; binary: the second class where the sigmoid
        output is above 0.5, else the first; both as `class_names` values (codes when there are
        none). multilabel: a boolean matrix, one column per label (``class_names`` name the
        columns when known), True where the output is above 0.5. regression: `predictions`
        unchanged.
        """
        outputs = np.asarray(predictions)
        if self.task == REGRESSION:
            return outputs
        if self.task == MULTILABEL:
            return outputs > 0.5
        if self.task == BINARY:
            if outputs.ndim == 2 and outputs.shape[1] == 1:
                outputs = outputs[:, 0]
            codes = (outputs > 0.5).astype("int64")
        else:
            codes = np.argmax(outputs, axis=-1)
        if self.class_names is None:
            return codes
        return np.asarray(self.class_names)[codes]


def json_label(value: Any) -> Label:
    """`value` as a plain Python str/int/float/bool: NumPy scalars unwrapped, bytes (as tf.data
    yields strings) decoded as UTF-8, anything else as its str()."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)
