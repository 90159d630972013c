"""Trials with the same graph share one compiled model, and compute what fresh models would."""

from __future__ import annotations

import zipfile

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tests.campaigns import write_campaign
from tuner import api
from tuner.builders import FunctionHyperModel
from tuner.builders.mlp import MLPHyperModel
from tuner.builders.regularizers import VariableL2, plain_regularizers
from tuner.datasets import MULTICLASS, DataSpec
from tuner.execution.model_reuse import REUSING_BACKENDS, CompiledModels, copy_state, graph_key

SPEC = DataSpec(MULTICLASS, (6,), 3)
# Reuse is for the backends whose per-model tracing it saves (TensorFlow, JAX); elsewhere the
# cache stays empty. CI runs this file on TensorFlow; `test_backends.py` checks JAX.
reusing_backends_only = pytest.mark.skipif(
    keras.backend.backend() not in REUSING_BACKENDS,
    reason="compiled models are reused on TensorFlow and JAX only",
)
BASE = dict(n_layers=2, units=8, dropout=0.25, l2=1e-3, optimizer="adam", learning_rate=1e-2)


def _build(seed: int = 0, **values) -> keras.Model:
    keras.backend.clear_session(free_memory=False)  # as the runner does: stable layer names
    keras.utils.set_random_seed(seed)
    hp = kt.HyperParameters()
    for name, value in dict(BASE, **values).items():
        hp.Fixed(name, value)
    return MLPHyperModel.for_data(SPEC).build(hp)


def _data(n: int = 48):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype("float32"), rng.integers(0, 3, size=n)


def test_variable_l2_computes_what_l2_does():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    regularizer = VariableL2(0.01)
    assert float(regularizer(x)) == pytest.approx(float(keras.regularizers.L2(0.01)(x)))
    regularizer.l2 = 0.5
    assert float(regularizer(x)) == pytest.approx(0.5 * 55.0)
    assert regularizer.get_config() == {"l2": 0.5}
    with pytest.raises(ValueError, match="non-negative"):
        VariableL2(-1.0)


def test_models_save_with_plain_l2_and_keep_their_variable_l2(tmp_path):
    model = _build(l2=0.02)
    model.optimizer.build(model.trainable_variables)
    with plain_regularizers(model):
        model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        config = archive.read("config.json").decode()
    assert "VariableL2" not in config and '"L2"' in config  # plain Keras loads it
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[1].kernel_regularizer) is keras.regularizers.L2
    assert loaded.layers[1].kernel_regularizer.l2 == pytest.approx(0.02)
    assert isinstance(model.layers[1].kernel_regularizer, VariableL2)  # put back after saving


def test_graph_key_ignores_values_held_in_variables_only():
    key = graph_key(_build())
    assert graph_key(_build(seed=3, learning_rate=0.5, l2=0.1)) == key
    for change in (
        {"n_layers": 3},
        {"units": 16},
        {"dropout": 0.5},
        {"l2": 0.0},
        {"optimizer": "sgd"},
        {"activation": "tanh"},
        {"batch_norm": True},
        {"kernel_initializer": "glorot_uniform"},
    ):
        assert graph_key(_build(**change)) != key, change


def test_copy_state_gives_every_starting_value():
    source, target = _build(seed=1, learning_rate=0.3, l2=0.05), _build(seed=2)
    assert copy_state(source, target)
    for a, b in zip(source.variables, target.variables):  # weights and dropout seed states
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    for a, b in zip(source.optimizer.variables, target.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert float(target.optimizer.learning_rate) == pytest.approx(0.3)
    assert target.layers[1].kernel_regularizer.l2 == pytest.approx(0.05)


def test_copy_state_refuses_models_that_do_not_match():
    assert not copy_state(_build(units=8), _build(units=16))


@reusing_backends_only
def test_a_reused_model_trains_exactly_like_a_fresh_one():
    x, y = _data()
    # The cache's model first trains with other values, so reuse starts from a dirty model.
    cache = CompiledModels(enabled=True)
    first = cache.adopt(_build(seed=5, learning_rate=0.2, l2=0.01))
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    reused = cache.adopt(_build(seed=9, learning_rate=0.03, l2=0.002))
    assert reused is first and cache.reused == 1
    history = reused.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    fresh = _build(seed=9, learning_rate=0.03, l2=0.002)
    expected = fresh.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history
    for name in expected:
        np.testing.assert_allclose(history[name], expected[name], rtol=1e-6, atol=1e-7)


@reusing_backends_only
def test_cache_keeps_a_graph_per_key_and_forgets_the_oldest():
    cache = CompiledModels(enabled=True, capacity=2)
    a = cache.adopt(_build(units=8))
    b = cache.adopt(_build(units=16))
    assert cache.adopt(_build(units=8, learning_rate=0.5)) is a
    cache.adopt(_build(units=32))  # evicts units=16, the least recently used
    assert cache.adopt(_build(units=16)) is not b
    assert len(cache.models) == 2


def test_disabled_or_user_builders_are_never_reused():
    cache = CompiledModels(enabled=False)
    first = cache.adopt(_build())
    assert cache.adopt(_build()) is not first
    user = FunctionHyperModel(lambda hp: _build(), SPEC)
    assert not getattr(user, "reuse_compiled_models", False)


@pytest.mark.slow
@reusing_backends_only
def test_campaign_with_reuse_gives_the_table_of_fresh_models(tmp_path, monkeypatch):
    space = {
        "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
        "l2": {"min": 1e-5, "max": 1e-2, "sampling": "log"},
        "units": 8,
        "dropout": 0.2,
    }
    reused_flags: list[bool] = []
    adopt = CompiledModels.adopt

    def spy(self, fresh):
        model = adopt(self, fresh)
        reused_flags.append(model is not fresh)
        return model

    monkeypatch.setattr(CompiledModels, "adopt", spy)
    runs = {}
    for name, reuse in (("reused", True), ("fresh", False)):
        monkeypatch.setattr(MLPHyperModel, "reuse_compiled_models", reuse)
        (tmp_path / name).mkdir()
        reused_flags.clear()
        runs[name] = api.search(
            # pack = 1: compiled models are reused by the sequential executor
            write_campaign(tmp_path / name, space=space, max_trials=4, epochs=3, pack=1)
        )
        assert reused_flags == ([False, True, True, True] if reuse else [False] * 4)
    for a, b in zip(runs["reused"].records, runs["fresh"].records):
        assert a.hyperparameters == b.hyperparameters
        for name in b.history:
            np.testing.assert_allclose(a.history[name], b.history[name], rtol=1e-5, atol=1e-6)
    best = runs["reused"].best_model()
    assert best.count_params() == runs["fresh"].best_model().count_params()
    saved = runs["reused"].folder / "models" / f"{runs['reused'].best_trial_id}.keras"
    with zipfile.ZipFile(saved) as archive:  # loads with plain Keras, without this package
        assert "VariableL2" not in archive.read("config.json").decode()
