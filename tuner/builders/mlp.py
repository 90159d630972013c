"""The multilayer perceptron: every textbook hyperparameter, with sound defaults.

Usable three ways: as a KerasTuner `HyperModel` with any KerasTuner tuner, from a campaign, and
with no tuning at all (`MLPHyperModel(...).build(kt.HyperParameters())` is a sound model).
"""

from __future__ import annotations

import json
import math
import re
from types import MappingProxyType
from typing import Any

import keras
import keras_tuner as kt

from tuner.builders.regularizers import VariableL2
from tuner.datasets import BINARY, MULTICLASS, MULTILABEL, REGRESSION, TASKS, DataSpec
from tuner.errors import ConfigError
from tuner.model_memory import physical_memory, training_bytes

ACTIVATIONS = ["relu", "elu", "selu", "tanh", "sigmoid", "leaky_relu"]
INITIALIZERS = [
    "he_normal",
    "he_uniform",
    "glorot_uniform",
    "glorot_normal",
    "lecun_normal",
    "normal_small",
    "normal_large",
]
OPTIMIZERS = [
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "adadelta",
    "rmsprop",
    "adam",
    "adamw",
    "nadam",
]
REGRESSION_LOSSES = ["mse", "mae", "huber"]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
MOMENTUM = 0.9
BATCH_NORM_MOMENTUM = 0.99  # Keras' BatchNormalization default


def make_initializer(name: str) -> keras.initializers.Initializer | str:
    """Keras initialiser for a name; `normal_small`/`normal_large` are the N(0, 0.01^2) and
    N(0, 1) of the classic weight-initialisation experiment."""
    if name == "normal_small":
        return keras.initializers.RandomNormal(stddev=0.01)
    if name == "normal_large":
        return keras.initializers.RandomNormal(stddev=1.0)
    return name


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """Keras optimizer for a name; `momentum` and `nesterov` are SGD with momentum 0.9."""
    factories = {
        "sgd": lambda: keras.optimizers.SGD(learning_rate),
        "momentum": lambda: keras.optimizers.SGD(learning_rate, momentum=MOMENTUM),
        "nesterov": lambda: keras.optimizers.SGD(learning_rate, momentum=MOMENTUM, nesterov=True),
        "adagrad": lambda: keras.optimizers.Adagrad(learning_rate),
        "adadelta": lambda: keras.optimizers.Adadelta(learning_rate),
        "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate),
        "adam": lambda: keras.optimizers.Adam(learning_rate),
        "adamw": lambda: keras.optimizers.AdamW(learning_rate),
        "nadam": lambda: keras.optimizers.Nadam(learning_rate),
    }
    if name not in factories:
        raise ConfigError(f"unknown optimizer {name!r}; accepted: {', '.join(OPTIMIZERS)}.")
    return factories[name]()


def output_head(
    task: str, output_size: int, positive_targets: bool = False
) -> tuple[int, str, str | None]:
    """(units, activation, classification loss) for a task, as the textbook table has it.

    The loss is None for regression, where it is a hyperparameter of its own.
    """
    if task == BINARY:
        return 1, "sigmoid", "binary_crossentropy"
    if task == MULTILABEL:
        return output_size, "sigmoid", "binary_crossentropy"
    if task == MULTICLASS:
        return output_size, "softmax", "sparse_categorical_crossentropy"
    if task == REGRESSION:
        return output_size, "softplus" if positive_targets else "linear", None
    raise ConfigError(f"unknown task {task!r}; accepted: {', '.join(TASKS)}.")


def output_dtype() -> str | None:
    """The output layer's dtype: float32 under a mixed dtype policy, so that the softmax (or
    sigmoid) and the loss are computed in float32, as Keras' mixed-precision guide advises;
    None (the policy's own) otherwise, which leaves the model's config as it always was."""
    policy = keras.config.dtype_policy()
    return "float32" if policy.compute_dtype != policy.variable_dtype else None


# Only these may differ between the trials of one pack (each tower has its own anyway; the
# rest fixes the graph, the batches and the number of epochs): see `packing_key`.
VARYING = ("learning_rate", "l2", "dropout")
PARENT = "tuner/trial_id"  # KerasTuner's names (Hyperband)
INITIAL_EPOCH = "tuner/initial_epoch"
TARGET_EPOCHS = "tuner/epochs"


def packing_key(hp_values: dict[str, Any]) -> str | None:
    """Text equal for two MLP trials exactly when they may train in one pack: the same values
    of every hyperparameter except learning_rate, l2 and dropout, and l2 and dropout zero for
    both or for neither. None when the trial cannot pack (it continues a parent's training)."""
    if hp_values.get(PARENT) is not None or int(hp_values.get(INITIAL_EPOCH) or 0) > 0:
        return None
    values = {
        k: v
        for k, v in hp_values.items()
        if k not in VARYING and (not k.startswith("tuner/") or k == TARGET_EPOCHS)
    }
    for name in ("l2", "dropout"):
        values[f"{name} > 0"] = bool(hp_values.get(name) or 0)
    n_layers = values.get("n_layers")
    for name in list(values):
        if match := re.fullmatch(r"units_(\d+)", name):
            inactive = not values.get("per_layer_units") or (
                isinstance(n_layers, int) and int(match.group(1)) >= n_layers
            )
            if inactive:
                del values[name]
    try:
        return json.dumps(values, sort_keys=True)
    except TypeError:
        return None


class MLPHyperModel(kt.HyperModel):
    """A dense network for any task; every textbook hyperparameter is a KerasTuner hyperparameter.

    Hyperparameters (default, range): n_layers (2, 1-5), units (64, 16-256), per_layer_units (False;
    then units_0..units_{n-1}), activation (relu), kernel_initializer (he_normal), batch_norm
    (False; then batch_norm_momentum, 0.99, 0-0.999), dropout (0.0, 0-0.5), l2 (0.0, 0-0.01),
    optimizer (adam), learning_rate (1e-3, 1e-5-1 log), batch_size (32), epochs (20, 1-1000);
    regression adds loss (mse, mae, huber).

    Its models keep the learning rate and the L2 factor in variables, and their config
    describes their graph, so the runner may train trials with the same graph on one compiled
    model (`reuse_compiled_models`, see `tuner.execution.model_reuse`).
    """

    reuse_compiled_models = True
    # One trial at a time, its small ops lose more to thread hand-offs than they gain.
    trains_fastest_on_one_thread = True
    executor_fits = True  # `fit` below only applies batch_size and epochs, as the executor does
    # Every knob has a declared range wide enough for any experiment (epochs up to 1000, a
    # learning rate from 1e-5 to 1): searching them all at once is no sensible default. So a
    # campaign with no [space] searches DEFAULT_SPACE, and one with a [space] exactly its
    # entries, the rest at their defaults (KerasTuner's tune_new_entries=False);
    # `tune_new_entries = true` searches every declared range.
    tune_new_entries = False
    default_space = MappingProxyType(
        {
            "n_layers": {"min": 1, "max": 3},
            "units": {"min": 32, "max": 256, "step": 32},
            "activation": ["relu", "tanh", "elu"],
            "dropout": {"min": 0.0, "max": 0.5, "step": 0.1},
            "optimizer": ["adam", "sgd", "rmsprop"],
            "learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"},
        }
    )

    def __init__(
        self,
        task: str,
        input_shape: tuple[int, ...],
        output_size: int,
        positive_targets: bool = False,
        name: str = "mlp",
        tunable: bool = True,
    ):
        super().__init__(name=name, tunable=tunable)
        output_head(task, output_size, positive_targets)  # validates the task early
        self.task = task
        self.input_shape = tuple(input_shape)
        self.output_size = output_size
        self.positive_targets = positive_targets

    @classmethod
    def for_data(cls, spec: DataSpec, **kwargs: Any) -> MLPHyperModel:
        """Builder for a dataset's `DataSpec` (``Dataset.spec``)."""
        return cls(spec.task, spec.input_shape, spec.output_size, spec.positive_targets, **kwargs)

    def _hidden_units(self, hp: kt.HyperParameters, n_layers: int, out_units: int) -> list[int]:
        units = hp.Int("units", 16, 256, step=16, default=64)
        # Before any list of n_layers widths exists: n_layers = 10**9 must not hang here.
        self._check_trainable_size([(units, n_layers)], out_units)
        if not hp.Boolean("per_layer_units", default=False):
            return [units] * n_layers
        with hp.conditional_scope("per_layer_units", [True]):
            widths = [
                hp.Int(f"units_{i}", 16, 256, step=16, default=units) for i in range(n_layers)
            ]
        self._check_trainable_size([(width, 1) for width in widths], out_units)
        return widths

    def _check_trainable_size(self, hidden: list[tuple[int, int]], out_units: int) -> None:
        """Refuse, before Keras allocates anything, a network that could not train in this
        machine's memory even alone. `hidden`: (width, how many layers) runs."""
        n_params = dense_parameters(math.prod(self.input_shape), hidden, out_units)
        memory = physical_memory()
        if memory is not None and training_bytes(n_params) > memory:
            layers = ", ".join(f"{count} x {width}" for width, count in hidden[:4])
            raise ValueError(
                f"{n_params:,} parameters (hidden layers: {layers}{', ...' * (len(hidden) > 4)}) "
                f"take about {training_bytes(n_params) / 2**30:,.0f} GiB to train, more than "
                f"this machine's {memory / 2**30:,.0f} GiB; use fewer or narrower layers"
            )

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        out_units, out_activation, loss = output_head(
            self.task, self.output_size, self.positive_targets
        )
        n_layers = hp.Int("n_layers", 1, 5, default=2)
        units = self._hidden_units(hp, n_layers, out_units)
        activation = hp.Choice("activation", ACTIVATIONS, default="relu")
        initializer = hp.Choice("kernel_initializer", INITIALIZERS, default="he_normal")
        batch_norm = hp.Boolean("batch_norm", default=False)
        with hp.conditional_scope("batch_norm", [True]):
            # Keras' default; small datasets (few updates an epoch) want less, such as
            # Saito's 0.9: the moving statistics lag the batches' by about 1/(1 - momentum).
            momentum = hp.Float("batch_norm_momentum", 0.0, 0.999, default=BATCH_NORM_MOMENTUM)
        dropout = hp.Float("dropout", 0.0, 0.5, default=0.0)
        l2 = hp.Float("l2", 0.0, 0.01, default=0.0)
        optimizer = hp.Choice("optimizer", OPTIMIZERS, default="adam")
        learning_rate = hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=1e-3)
        if loss is None:
            loss = hp.Choice("loss", REGRESSION_LOSSES, default="mse")
        # Declared here so that every hyperparameter the model uses is in the space, even
        # though only `fit` reads them.
        hp.Choice("batch_size", BATCH_SIZES, default=32)
        hp.Int("epochs", 1, 1000, default=20)

        # In a variable, so trials that differ only in l2 can share one compiled model.
        regularizer = VariableL2(l2) if l2 > 0 else None
        inputs = keras.Input(shape=self.input_shape)
        x = keras.layers.Flatten()(inputs) if len(self.input_shape) > 1 else inputs
        for width in units:
            x = keras.layers.Dense(
                width,
                kernel_initializer=make_initializer(initializer),
                kernel_regularizer=regularizer,
                use_bias=not batch_norm,
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(momentum=momentum)(x)
            x = keras.layers.Activation(activation)(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout)(x)
        outputs = keras.layers.Dense(out_units, activation=out_activation, dtype=output_dtype())(x)
        model = keras.Model(inputs, outputs, name=self.name)
        # mse as a metric too: a campaign that tunes the loss ranks by val_mse, not val_loss.
        metrics = ["mse", "mae"] if self.task == REGRESSION else ["accuracy"]
        model.compile(
            optimizer=make_optimizer(optimizer, learning_rate), loss=loss, metrics=metrics
        )
        return model

    def packing_key(self, hp_values: dict[str, Any]) -> str | None:
        """Equal for trials that may train as towers of one packed model (only learning_rate,
        l2 and dropout differ; see `packing_key`); None when a trial cannot."""
        key = packing_key(hp_values)
        if key is None:
            return None
        return f"{self.task}|{self.input_shape}|{self.output_size}|{self.positive_targets}|{key}"

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any):
        """Train with the trial's `batch_size` and `epochs`, as KerasTuner documents."""
        kwargs.setdefault("batch_size", hp.get("batch_size"))
        kwargs.setdefault("epochs", hp.get("epochs"))
        return model.fit(*args, **kwargs)


def dense_parameters(inputs: int, hidden: list[tuple[int, int]], outputs: int) -> int:
    """Kernel and bias entries of a dense stack; `hidden` as (width, how many layers) runs."""
    total, previous = 0, inputs
    for width, count in hidden:
        if count > 0:
            total += previous * width + width + (count - 1) * (width * width + width)
            previous = width
    return total + previous * outputs + outputs


def build_mlp(spec: DataSpec, **values: Any) -> keras.Model:
    """A compiled MLP with every hyperparameter at its default except those given.

    >>> build_mlp(load_dataset("iris").spec, n_layers=3, dropout=0.2)   # doctest: +SKIP
    """
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return MLPHyperModel.for_data(spec).build(hp)
