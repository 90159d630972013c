"""Trials whose models have the same graph share one compiled model.

On the TensorFlow backend the first epoch of every new model traces its training and evaluation
functions: about 0.3 s for a 6x100 MLP, a third of a 50-epoch trial on 400 samples; on JAX it
traces and compiles them with XLA, several seconds a model. When a
trial's freshly built model has the same graph as one already trained (same layers, loss,
metrics and optimizer; only values held in variables differ: the learning rate, a `VariableL2`
factor), its state is copied into that compiled model instead (weights, optimizer slots and
step, dropout seeds, factors) and training starts without tracing. The copy holds every value
the fresh model would have started with, so the trial computes what it would have on its own.
On JAX the factors are made model state first (`hold_factors_as_state`): a jitted step reads
any other variable as a constant. PyTorch runs Keras' steps eagerly, with nothing to save.

Only builders that opt in (``reuse_compiled_models = True`` on the HyperModel) are reused: a
model's config must describe its graph completely, which a user's custom layer need not do.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from numbers import Real
from typing import Any

import keras

from tuner import heap, tf_backend
from tuner.builders.regularizers import VariableL2, hold_factors_as_state, variable_l2s

HELD_IN_A_VARIABLE = "<held in a variable>"
# The backends whose compiled steps a shared model saves; JAX needs the factors as state.
REUSING_BACKENDS = ("tensorflow", "jax")
FACTORS_AS_STATE_BACKENDS = ("jax",)


def _layer_names(model_config: dict[str, Any]) -> dict[str, str]:
    """The model's and its top-level layers' names -> their position. (Layers of a nested model
    keep their names, so such models rarely match: they are not reused.)"""
    names = [model_config.get("name")] + [
        entry.get("name") or entry.get("config", {}).get("name")
        for entry in model_config.get("layers", [])
    ]
    return {name: f"<layer {i}>" for i, name in enumerate(names) if isinstance(name, str)}


def _normalise(config: Any, names: dict[str, str]) -> Any:
    """The config as it bears on the graph: layer names replaced by their position (``dense_7``
    and ``dense`` are the same layer at the same place, whatever Keras' name counters had
    reached) and the values that live in variables replaced by a marker."""
    if isinstance(config, (list, tuple)):
        return [_normalise(item, names) for item in config]
    if isinstance(config, str):
        return names.get(config, config)
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == VariableL2.__name__:
        return HELD_IN_A_VARIABLE
    normalised = {key: _normalise(value, names) for key, value in config.items()}
    if isinstance(config.get("learning_rate"), Real):  # an optimizer: its rate is a variable,
        normalised["learning_rate"] = HELD_IN_A_VARIABLE  # its name a counter's
        normalised.pop("name", None)
    return normalised


def graph_key(model: keras.Model) -> str | None:
    """Text equal for two compiled models exactly when their graphs are equal (None when the
    model cannot describe itself)."""
    try:
        config = {
            "model": model.get_config(),
            "compile": model.get_compile_config(),
            "class": type(model).__qualname__,
        }
        return json.dumps(_normalise(config, _layer_names(config["model"])), sort_keys=True)
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        return None


def _shapes(variables: list[Any]) -> list[tuple[tuple[int, ...], str]]:
    return [(tuple(v.shape), str(v.dtype)) for v in variables]


def copy_state(source: keras.Model, target: keras.Model) -> bool:
    """Give `target` every value `source` starts training with; False when they do not match."""
    if source.optimizer is None or target.optimizer is None:
        return False
    for model in (source, target):
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
    pairs = [
        (source.variables, target.variables),
        (source.optimizer.variables, target.optimizer.variables),
    ]
    factors_from = [r for _, _, r in variable_l2s(source)]
    factors_to = [r for _, _, r in variable_l2s(target)]
    if any(_shapes(a) != _shapes(b) for a, b in pairs) or len(factors_from) != len(factors_to):
        return False
    for sources, targets in pairs:
        for value, variable in zip(sources, targets):
            variable.assign(value)
    for value, regularizer in zip(factors_from, factors_to):
        regularizer.variable.assign(value.variable)
    return True


class CompiledModels:
    """The compiled models of recent trials, by graph; `adopt` picks the one to train.

    It also owns what TensorFlow keeps for the models it trains and never frees on its own
    (see `tf_backend.custom_gradients`): the gradient registrations a trial's tracing made are
    the trial's model's, kept while the model is cached and released when it is evicted or
    was never kept; TensorFlow's kernel cache, which grows with every model that ran, is
    emptied once every `kernel_cache_every` released models, and the C heap's free pages go
    back to the system (`heap.trim`). So memory stays bounded by
    `capacity` models however many trials run.

    Four, because each cached model holds about 11 MB (its traced train and test graphs): in
    the 1,000-trial soak (32 graphs, `benchmarks/soak.py`) resident memory grew 96 MB from
    trial 10 to 100 with 8 cached, 53 MB with 4 and 41 MB with 2. Campaigns of up to four
    graphs (the textbook ones tune the learning rate and L2 of one) reuse as often as with
    more; a random search over G > 4 graphs reuses 4/G of its trials instead of 8/G.
    """

    def __init__(self, enabled: bool, capacity: int = 4, kernel_cache_every: int = 8):
        self.backend = keras.backend.backend()
        self.enabled = enabled and self.backend in REUSING_BACKENDS
        self.capacity = capacity
        self.kernel_cache_every = kernel_cache_every
        self.models: OrderedDict[str, keras.Model] = OrderedDict()
        self.reused = 0
        self.released = 0  # models whose TensorFlow state was released
        self._registrations: dict[str, frozenset[str]] = {}  # by graph key
        self._known = tf_backend.custom_gradients()
        self._last: str | None = None  # the key of the model adopted last, when cached
        self._since_kernel_cache = 0

    def clears_session(self) -> bool:
        """Whether the runner should clear the Keras session before each trial. Not while
        models are reused: clearing also empties TensorFlow's kernel cache, and re-creating
        the kernels of a reused model cost 0.06-0.1 s a trial (6x100 MLP, 50 epochs)."""
        return not self.enabled

    def adopt(self, fresh: keras.Model) -> keras.Model:
        """The model to train for a trial whose freshly built model is `fresh`: an earlier
        compiled model with the same graph, now holding `fresh`'s state, or `fresh` itself.
        Called once a trial, before its fit: what the last trial traced is settled first."""
        self._settle_last_trial()
        key = graph_key(fresh) if self.enabled else None
        if key is None:
            return fresh
        if self.backend in FACTORS_AS_STATE_BACKENDS:  # before its step is ever compiled
            hold_factors_as_state(fresh)
        cached = self.models.get(key)
        if cached is not None and copy_state(fresh, cached):
            self.models.move_to_end(key)
            self.reused += 1
            self._last = key
            return cached
        if cached is not None:  # the same key, and yet the state did not fit: replace it
            self._release(self._registrations.pop(key, frozenset()))
        self.models[key] = fresh
        self.models.move_to_end(key)
        self._last = key
        while len(self.models) > self.capacity:
            evicted, _ = self.models.popitem(last=False)
            self._release(self._registrations.pop(evicted, frozenset()))
        return fresh

    def _settle_last_trial(self) -> None:
        """Give the registrations made since the last call to the model that made them (the
        last adopted one) while it is cached; release them when it is not."""
        now = tf_backend.custom_gradients()
        new = now - self._known
        if self._last is not None and self._last in self.models:
            self._registrations[self._last] = self._registrations.get(self._last, frozenset()) | new
        elif new:
            self._release(new)
        self._last = None
        self._known = now  # the released ones are gone from the registry: never new again

    def _release(self, registrations: frozenset[str]) -> None:
        tf_backend.forget_custom_gradients(registrations)
        self.released += 1
        self._since_kernel_cache += 1
        if self._since_kernel_cache >= self.kernel_cache_every:
            # When the session is cleared before each trial, the kernel cache goes with it.
            if not self.clears_session():
                tf_backend.clear_kernel_cache()
            heap.trim()
            self._since_kernel_cache = 0
