"""The tower template: a packed trial's starting point.

A builder opts in to packing with `packing_key(hp_values)`: trials with equal keys build the
same graph and differ only in `learning_rate` (their optimizer's), `l2` (the factor of every
`VariableL2` kernel regularizer) and `dropout` (the rate of every Dropout layer), each of which
is either zero for every trial of a pack or for none (a zero leaves the layer out). The MLP
builder's key is `tuner.builders.mlp.packing_key`.

`TowerTemplate` is one built model of a pack's architecture and the way to give any trial of it
the initial weights a fresh build of that trial would have, without building it: Keras draws
each random initializer's seed from Python's `random` (seeded by `keras.utils.set_random_seed`)
as the model is constructed, so replaying those draws under another trial's seed gives that
trial's seeds. The template checks the replay against its own weights before it is trusted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tuner.builders.regularizers import variable_l2s

# Where Keras' layers keep each weight's initializer: weight `x` in `layer.x`, its initializer
# in `layer.x_initializer`.
_INITIALIZED = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")
_SEED_DRAWS = 4096  # more draws than a model's construction makes


class NotPackable(Exception):
    """These trials cannot train as one pack (the caller trains them alone)."""


def _initializers(model: keras.Model) -> list[Any]:
    """Each weight's initializer, in `model.weights` order."""
    found = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        for name in _INITIALIZED:
            variable = getattr(layer, name, None)
            initializer = getattr(layer, f"{name}_initializer", None)
            if variable is not None and initializer is not None:
                found[id(variable)] = initializer
    missing = [v.path for v in model.weights if id(v) not in found]
    if missing:
        raise NotPackable(f"no initializer known for {', '.join(missing)}")
    return [found[id(v)] for v in model.weights]


def _seed_draws(seed: int, count: int = _SEED_DRAWS) -> list[int]:
    """The first `count` seeds Keras hands new random initializers (and seed generators)
    after ``set_random_seed(seed)``."""
    generator = random.Random(seed)
    return [generator.randint(1, int(1e9)) for _ in range(count)]


class TowerTemplate:
    """A pack's architecture, built once (for the trial `hp` with `seed`), and each trial's
    initial weights and varying values without building its model."""

    def __init__(self, hypermodel: kt.HyperModel, hp: kt.HyperParameters, seed: int):
        self.hypermodel = hypermodel
        keras.utils.set_random_seed(seed)
        self.model = hypermodel.build(hp)  # registers the builder's defaults in `hp`
        self.defaults = dict(hp.values)
        self.initializers = _initializers(self.model)
        self.initial = self.model.get_weights()
        draws = _seed_draws(seed)
        self.draw_index: list[int | None] = []
        for initializer in self.initializers:
            drawn = getattr(initializer, "seed", None)
            if not isinstance(drawn, int):
                self.draw_index.append(None)  # not random: the same for every trial
            elif drawn in draws:
                self.draw_index.append(draws.index(drawn))
            else:
                raise NotPackable("the builder draws its initializers' seeds another way")
        replayed = self.initial_weights(seed)
        if any(not np.array_equal(a, b) for a, b in zip(replayed, self.initial, strict=True)):
            raise NotPackable("replaying the initializers does not give the built weights")
        self._check_varying(self.defaults)

    def _check_varying(self, values: dict[str, Any]) -> None:
        """The builder's promise: learning_rate, l2 and dropout land where `settings` says."""
        settings = self.settings(values)
        optimizer_rate = self.model.optimizer.get_config().get("learning_rate")
        if not np.isclose(optimizer_rate, settings["learning_rate"], rtol=1e-6):
            raise NotPackable("the optimizer's learning rate is not the learning_rate value")
        for _, _, regularizer in variable_l2s(self.model):
            if not np.isclose(regularizer.l2, settings["l2"], rtol=1e-6):
                raise NotPackable("an L2 factor is not the l2 value")
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.Dropout) and layer.rate != settings["dropout"]:
                raise NotPackable("a dropout rate is not the dropout value")

    def values(self, hp: kt.HyperParameters) -> dict[str, Any]:
        """A trial's hyperparameter values with the builder's defaults filled in."""
        return dict(self.defaults, **hp.values)

    @staticmethod
    def settings(values: dict[str, Any]) -> dict[str, float]:
        """A trial's own learning rate, L2 factor and dropout rate."""
        return {
            "learning_rate": float(values.get("learning_rate") or 0.0),
            "l2": float(values.get("l2") or 0.0),
            "dropout": float(values.get("dropout") or 0.0),
        }

    def initial_weights(self, seed: int) -> list[np.ndarray]:
        """The weights a fresh build of a trial seeded with `seed` starts from."""
        draws = _seed_draws(seed, 1 + max((i for i in self.draw_index if i is not None), default=0))
        weights = []
        for initial, initializer, index in zip(
            self.initial, self.initializers, self.draw_index, strict=True
        ):
            if index is None:
                weights.append(initial)
                continue
            config = dict(initializer.get_config(), seed=draws[index])
            drawn = type(initializer).from_config(config)(initial.shape, initial.dtype)
            weights.append(keras.ops.convert_to_numpy(drawn))
        return weights

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """A trial's own single-tower model (for saving), built as the builder builds it."""
        return self.hypermodel.build(hp.copy())


def tower_settings(
    template: TowerTemplate, hps: Sequence[kt.HyperParameters]
) -> tuple[list[float], list[float], list[float]]:
    """The towers' learning rates, L2 factors and dropout rates."""
    settings = [template.settings(template.values(hp)) for hp in hps]
    return (
        [s["learning_rate"] for s in settings],
        [s["l2"] for s in settings],
        [s["dropout"] for s in settings],
    )
