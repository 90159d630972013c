"""Memory stays bounded over many trials: what TensorFlow keeps for each trained model is freed
when the compiled-model cache lets the model go (issue 13, "memory grows without bound")."""

from __future__ import annotations

import gc

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tuner.builders.mlp import MLPHyperModel
from tuner.datasets import MULTICLASS, DataSpec
from tuner.execution.model_reuse import CompiledModels
from tuner.execution.stacked import StackedTowers
from tuner.execution.stacking import stacked_towers
from tuner.execution.tower import TowerTemplate, tower_settings

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the leak and its fix are TensorFlow's"
)
SPEC = DataSpec(MULTICLASS, (4,), 3)


def _build(units: int) -> keras.Model:
    hp = kt.HyperParameters()
    for name, value in dict(n_layers=1, units=units, optimizer="adam").items():
        hp.Fixed(name, value)
    return MLPHyperModel.for_data(SPEC).build(hp)


def _live_graphs() -> int:
    """Traced graphs still alive: what each trained model's train and test steps leave behind."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "FuncGraph")


def _trial(cache: CompiledModels, units: int, *, clear_session: bool = False) -> keras.Model:
    """One trial as the sequential executor runs it: build, adopt, one short fit."""
    if clear_session:
        keras.backend.clear_session(free_memory=False)
    model = cache.adopt(_build(units))
    x, y = np.ones((16, 4), "float32"), np.zeros(16, "int64")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    return model


def test_the_cache_holds_at_most_its_capacity():
    cache = CompiledModels(enabled=True, capacity=2)
    for units in (8, 16, 24, 32, 40):
        cache.adopt(_build(units))
    assert len(cache.models) == 2 and cache.released == 3


@pytest.mark.parametrize("reuse", [True, False])
def test_graphs_of_models_let_go_are_freed(reuse):
    # reuse=False is a user's builder: the session is cleared before each trial, which alone
    # does not free the graphs (TensorFlow's gradient registry holds them).
    cache = CompiledModels(enabled=reuse, capacity=1, kernel_cache_every=1)
    _trial(cache, 8, clear_session=not reuse)
    one_model = _live_graphs()
    _trial(cache, 16, clear_session=not reuse)
    _trial(cache, 24, clear_session=not reuse)
    # Without the release, each trained model leaves its graphs behind (two more a trial).
    assert _live_graphs() <= one_model
    assert len(cache.models) == (1 if reuse else 0)
    assert len(cache._registrations) <= 1
    if reuse:  # the kernel cache was emptied at each eviction: the cached model still trains
        assert _trial(cache, 24) is cache.models[next(iter(cache.models))]
        assert cache.reused == 1


def _trained_stack(units: int) -> StackedTowers:
    hp = kt.HyperParameters()
    values = dict(n_layers=1, units=units, optimizer="adam", batch_size=8, learning_rate=0.01)
    for name, value in values.items():
        hp.Fixed(name, value)
    template = TowerTemplate(MLPHyperModel.for_data(SPEC), hp, 0)
    x, y = np.ones((16, 4), "float32"), np.zeros(16, "int64")
    stack = stacked_towers(template.model, 2, x, y, x, y, batch_size=8)
    stack.load([template.initial_weights(s) for s in (0, 1)], *tower_settings(template, [hp, hp]))
    assert np.isfinite(stack.train_epoch(np.arange(16))["loss"]).all()
    return stack


def test_graphs_of_stacks_let_go_are_freed():
    # The packed executor releases the stacks it evicts; without it, each leaves its traced
    # steps behind (TensorFlow's gradient registry holds them).
    stack = _trained_stack(8)
    one_stack = _live_graphs()
    for units in (16, 24, 32):
        stack.release()
        stack = _trained_stack(units)
    assert _live_graphs() <= one_stack
