"""Packed trials: towers of one model train as their trials would alone."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tuner.builders.mlp import OPTIMIZERS, MLPHyperModel
from tuner.builders.packing import build_packed_mlp, packing_key
from tuner.builders.regularizers import plain_regularizers
from tuner.datasets import DataSpec, load_dataset
from tuner.execution import PackedExecutor, SequentialExecutor, TrialContext
from tuner.pipeline import InputPipeline

SPEC = DataSpec("multiclass", (8,), 3)
BASE = dict(n_layers=2, units=16, optimizer="sgd", batch_size=16, epochs=3)


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 8)).astype("float32"), rng.integers(0, 3, n)


def _hp(values: dict[str, Any]) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def _trial(trial_id: str, **values: Any) -> kt.engine.trial.Trial:
    return kt.engine.trial.Trial(_hp(values), trial_id=trial_id)


def test_packing_key_ignores_only_learning_rate_l2_and_dropout() -> None:
    key = packing_key(dict(BASE, learning_rate=0.1, l2=0.0, dropout=0.0))
    assert key == packing_key(dict(BASE, learning_rate=1e-4, l2=1e-3, dropout=0.3))
    for name, other in [("units", 32), ("optimizer", "adam"), ("batch_size", 32), ("epochs", 4)]:
        assert packing_key(dict(BASE, **{name: other})) != key, name
    # Per-layer widths count only when they are used.
    assert packing_key(dict(BASE, units_0=64)) == packing_key(BASE)
    assert packing_key(dict(BASE, per_layer_units=True, units_0=64)) != packing_key(
        dict(BASE, per_layer_units=True, units_0=32)
    )
    assert packing_key(dict(BASE, **{"tuner/trial_id": "3"})) is None  # continues a parent
    assert packing_key(dict(BASE, **{"tuner/initial_epoch": 2})) is None
    binary = MLPHyperModel("binary", (8,), 1)
    assert binary.packing_key(BASE) != MLPHyperModel.for_data(SPEC).packing_key(BASE)


def test_packs_group_by_key_up_to_max_pack() -> None:
    x, y = _data()
    dataset = load_dataset("digits", max_samples=100)
    executor = PackedExecutor(
        MLPHyperModel.for_data(dataset.spec),
        InputPipeline(dataset),
        objective=kt.Objective("val_accuracy", "max"),
        max_pack=2,
    )
    trials = [
        _trial("a", **BASE, learning_rate=0.1),
        _trial("b", **dict(BASE, units=32)),
        _trial("c", **BASE, learning_rate=0.01, dropout=0.2),
        _trial("d", **BASE, l2=1e-3),
        _trial("e", **BASE, **{"tuner/trial_id": "a"}),
    ]
    assert executor.packs(trials) == [[0, 2], [1], [3], [4]]

    class Plain(kt.HyperModel):  # no packing key: every trial alone
        def build(self, hp: kt.HyperParameters) -> keras.Model:
            raise AssertionError

    executor.hypermodel = Plain()
    assert executor.packs(trials) == [[0], [1], [2], [3], [4]]


@pytest.mark.slow
def test_one_packed_epoch_matches_each_trial_alone_for_every_optimizer() -> None:
    x, y = _data()
    hp_list = [
        dict(
            BASE, optimizer=name, learning_rate=0.01 * (1 + i), l2=1e-3 * (i % 2), batch_norm=i == 3
        )
        for i, name in enumerate(OPTIMIZERS)
    ]
    seeds = [10 + i for i in range(len(hp_list))]
    packed = build_packed_mlp(SPEC, hp_list, seeds)
    packed.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for values, seed, tower in zip(hp_list, seeds, packed.towers):
        keras.utils.set_random_seed(seed)
        alone = MLPHyperModel.for_data(SPEC).build(_hp(values))
        alone.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
        for expected, got in zip(alone.get_weights(), tower.get_weights(), strict=True):
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=values["optimizer"])


@pytest.mark.slow
def test_a_diverging_tower_leaves_the_others_bit_identical() -> None:
    x, y = _data()
    calm = [dict(BASE, optimizer="momentum", learning_rate=0.05), dict(BASE, learning_rate=0.1)]
    wild = dict(BASE, optimizer="momentum", learning_rate=1e6)
    without = build_packed_mlp(SPEC, calm, [1, 2])
    without.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    with_wild = build_packed_mlp(SPEC, [calm[0], wild, calm[1]], [1, 3, 2])
    history = with_wild.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    assert not np.isfinite(history["tower1__loss"][-1])
    assert list(keras.ops.convert_to_numpy(with_wild.active)) == [1.0, 0.0, 1.0]
    # Frozen at the step whose loss was not finite: its weights never took that step.
    assert all(np.isfinite(w).all() for w in with_wild.towers[1].get_weights())
    for a, b in [
        (without.towers[0], with_wild.towers[0]),
        (without.towers[1], with_wild.towers[2]),
    ]:
        for expected, got in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(got, expected)
    assert history["tower0__loss"] == without.history.history["tower0__loss"]


@pytest.mark.slow
def test_packed_executor_gives_the_sequential_records(tmp_path: Any) -> None:
    dataset = load_dataset("digits", max_samples=200)
    hypermodel = MLPHyperModel.for_data(dataset.spec)
    pipeline = InputPipeline(dataset)
    settings: dict[str, Any] = dict(
        objective=kt.Objective("val_accuracy", "max"), seed=0, early_stopping={"patience": 2}
    )
    common = dict(optimizer="momentum", units=32, epochs=6, batch_size=32)

    def trials() -> list[kt.engine.trial.Trial]:
        return [
            _trial("0", **common, learning_rate=0.01),
            _trial("1", **common, learning_rate=0.003, l2=1e-3, dropout=0.2),
            _trial("2", **common, learning_rate=0.05, l2=1e-4),
            _trial("3", **common, learning_rate=1e6),  # diverges
        ]

    alone = SequentialExecutor(hypermodel, pipeline, **settings).run(trials(), TrialContext())
    executor = PackedExecutor(hypermodel, pipeline, **settings)
    assert executor.packs(trials()) == [[0, 1, 2, 3]]
    packed = executor.run(trials(), TrialContext())
    assert [o.record.trial_id for o in packed] == ["0", "1", "2", "3"]
    for a, b in zip(alone, packed):
        ra, rb = a.record, b.record
        assert (ra.status, ra.best_epoch, ra.epochs_run, ra.n_params, ra.error) == (
            rb.status,
            rb.best_epoch,
            rb.epochs_run,
            rb.n_params,
            rb.error,
        )
        assert ra.hyperparameters == rb.hyperparameters
        assert list(ra.history) == list(rb.history)
        # Same weights, batches and dropout masks: only the order of float operations differs.
        for name, values in ra.history.items():
            np.testing.assert_allclose(rb.history[name], values, rtol=1e-5, atol=1e-6)
    assert re.fullmatch(r"diverged: loss became nan at epoch \d+", packed[3].record.error or "")

    # One pack: the records share its time.
    model = packed[1].model
    assert model is not None and packed[1].record.duration_s == packed[0].record.duration_s
    expected = model.predict(dataset.x_val, verbose=0)
    path = tmp_path / "tower.keras"
    with plain_regularizers(model):
        model.save(path)
    np.save(tmp_path / "x.npy", dataset.x_val)
    code = (
        "import sys, numpy as np, keras; m = keras.models.load_model(sys.argv[1]);"
        "np.save(sys.argv[2], m.predict(np.load(sys.argv[3]), verbose=0));"
        "assert 'tuner' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "y.npy"), str(tmp_path / "x.npy")],
        check=True,
        cwd=tmp_path,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
    )
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-6, atol=1e-7)
