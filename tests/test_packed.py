"""Packed trials: stacked towers train as their trials would alone."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tuner.builders.mlp import OPTIMIZERS, MLPHyperModel, packing_key
from tuner.builders.regularizers import plain_regularizers
from tuner.datasets import DataSpec, load_dataset
from tuner.execution import PackedExecutor, SequentialExecutor, TrialContext
from tuner.execution.optimizer_state import optimizer_values
from tuner.execution.pipeline import InputPipeline
from tuner.execution.stacked import StackedTowers
from tuner.execution.stacking import stacked_towers
from tuner.execution.tower import TowerTemplate, tower_settings

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


def _fresh(values: dict[str, Any], seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return MLPHyperModel.for_data(SPEC).build(_hp(values))


def _stack(values: list[dict[str, Any]], seeds: list[int], x: Any, y: Any) -> StackedTowers:
    template = TowerTemplate(MLPHyperModel.for_data(SPEC), _hp(values[0]), seeds[0])
    stack = stacked_towers(template.model, len(values), x, y, x[:20], y[:20], batch_size=16)
    hps = [_hp(v) for v in values]
    stack.load([template.initial_weights(s) for s in seeds], *tower_settings(template, hps))
    return stack


def _assert_tower_is_its_trial(
    stack: StackedTowers,
    logs: dict[str, np.ndarray],
    k: int,
    alone: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    label: str,
) -> dict[str, list[float]]:
    """Tower k of a stack that trained one epoch (`logs`, validated on x[:20]) holds the
    weights, optimizer state and logs of `alone` (its trial's fresh model) after the same
    epoch, to 1e-5; returns alone's history."""
    alone.run_eagerly = True  # the same arithmetic, without tracing a graph for one epoch
    history: dict[str, list[float]] = alone.fit(
        x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_data=(x[:20], y[:20])
    ).history
    for expected, got in zip(alone.get_weights(), stack.weights(k), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=label)
    # The tower's optimizer state, as a kept single-tower model is given it.
    state = stack.all_optimizer_values()
    assert state is not None, label
    expected_state = optimizer_values(alone)
    assert expected_state is not None and int(expected_state[0]) > 0, label  # the step count
    for expected, got in zip(expected_state, state[k], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=label)
    for metric, series in history.items():
        assert logs[metric][k] == pytest.approx(series[0], abs=1e-5), (label, metric)
    return history


def test_packing_key_ignores_only_the_values_of_learning_rate_l2_and_dropout() -> None:
    key = packing_key(dict(BASE, learning_rate=0.1, l2=1e-4, dropout=0.1))
    assert key == packing_key(dict(BASE, learning_rate=1e-4, l2=1e-3, dropout=0.3))
    # A zero leaves the regularizer or the Dropout layers out: another graph.
    assert packing_key(dict(BASE, l2=0.0, dropout=0.1)) != key
    assert packing_key(dict(BASE, l2=1e-4, dropout=0.0)) != key
    for name, other in [("units", 32), ("optimizer", "adam"), ("batch_size", 32), ("epochs", 4)]:
        assert packing_key(dict(BASE, **{name: other})) != packing_key(BASE), name
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
        _trial("c", **BASE, learning_rate=0.01),
        _trial("d", **BASE, learning_rate=0.02),
        _trial("e", **BASE, **{"tuner/trial_id": "a"}),
        _trial("f", **BASE, dropout=0.2),
    ]
    assert executor.packs(trials) == [[0, 2], [1], [3], [4], [5]]

    class Plain(kt.HyperModel):  # no packing key: every trial alone
        def build(self, hp: kt.HyperParameters) -> keras.Model:
            raise AssertionError

    executor.hypermodel = Plain()
    assert executor.packs(trials) == [[0], [1], [2], [3], [4], [5]]


def test_towers_start_from_the_weights_of_their_trials_fresh_builds() -> None:
    values = dict(BASE, batch_norm=True, dropout=0.2, l2=1e-3, kernel_initializer="glorot_normal")
    template = TowerTemplate(MLPHyperModel.for_data(SPEC), _hp(values), seed=5)
    for seed in [5, 6, 123456]:
        expected = _fresh(values, seed).get_weights()
        for a, b in zip(template.initial_weights(seed), expected, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(template.initial_weights(6)[0], template.initial_weights(7)[0])


@pytest.mark.slow
def test_one_stacked_epoch_matches_each_trial_alone_for_every_optimizer() -> None:
    x, y = _data(40)  # batches of 16, 16 and 8
    for name in OPTIMIZERS:
        values = [
            dict(BASE, optimizer=name, learning_rate=0.01 * (1 + i), l2=1e-3 * (1 + i))
            for i in range(2)
        ]
        values[1]["batch_norm"] = values[0]["batch_norm"] = name in ("adam", "sgd")
        seeds = [10, 11]
        stack = _stack(values, seeds, x, y)
        logs = stack.train_epoch(np.arange(len(x)))
        logs.update(stack.evaluate())
        for k, (v, seed) in enumerate(zip(values, seeds)):
            _assert_tower_is_its_trial(stack, logs, k, _fresh(v, seed), x, y, name)


@pytest.mark.slow
def test_a_diverging_tower_leaves_the_others_bit_identical() -> None:
    x, y = _data()
    calm = [dict(BASE, optimizer="momentum", learning_rate=lr) for lr in (0.05, 0.01, 0.1)]
    wild = [calm[0], dict(calm[1], learning_rate=1e6), calm[2]]
    runs = []
    for values in (calm, wild):
        stack = _stack(values, [1, 3, 2], x, y)
        losses = [stack.train_epoch(np.arange(len(x)))["loss"] for _ in range(3)]
        runs.append((stack, np.array(losses)))
    (quiet, quiet_losses), (stack, losses) = runs
    assert not np.isfinite(losses[-1][1])
    assert list(keras.ops.convert_to_numpy(stack.active)) == [1.0, 0.0, 1.0]
    for k in (0, 2):
        np.testing.assert_array_equal(losses[:, k], quiet_losses[:, k])
        for expected, got in zip(quiet.weights(k), stack.weights(k), strict=True):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_packed_executor_gives_the_sequential_records(tmp_path: Any) -> None:
    dataset = load_dataset("digits", max_samples=200)
    hypermodel = MLPHyperModel.for_data(dataset.spec)
    pipeline = InputPipeline(dataset)
    settings: dict[str, Any] = dict(
        objective=kt.Objective("val_accuracy", "max"), seed=0, early_stopping={"patience": 2}
    )
    common = dict(optimizer="momentum", units=32, epochs=6, batch_size=32, l2=1e-4)

    def trials() -> list[kt.engine.trial.Trial]:
        return [
            _trial("0", **common, learning_rate=0.01),
            _trial("1", **dict(common, l2=1e-3), learning_rate=0.003),
            _trial("2", **common, learning_rate=0.05),
            _trial("3", **common, learning_rate=1e6),  # diverges
        ]

    alone = SequentialExecutor(hypermodel, pipeline, **settings).run(trials(), TrialContext())
    executor = PackedExecutor(hypermodel, pipeline, **settings)
    assert executor.packs(trials()) == [[0, 1, 2, 3]]
    packed = executor.run(trials(), TrialContext())
    assert [o.record.trial_id for o in packed] == ["0", "1", "2", "3"]
    assert [o.pack_size for o in packed] == [4, 4, 4, 4]
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
        # Same weights and batches: only the order of float operations differs.
        for name, values in ra.history.items():
            np.testing.assert_allclose(rb.history[name], values, rtol=1e-4, atol=1e-5)
    assert re.fullmatch(r"diverged: loss became nan at epoch \d+", packed[3].record.error or "")

    # One pack: the records share its time. The kept model is a plain single-tower model.
    model = packed[1].kept_model()
    assert model is not None and packed[1].record.duration_s == packed[0].record.duration_s
    model.set_weights(packed[1].best_weights)
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
    # The tower's best epoch: the saved model scores what the record says.
    accuracy = float(np.mean(np.argmax(expected, -1) == dataset.y_val))
    assert accuracy == pytest.approx(packed[1].record.score, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "outputs", "extra"),
    [("binary", 1, {}), ("regression", 2, {"loss": "huber"}), ("multilabel", 3, {})],
)
def test_stacked_towers_match_alone_for_every_task(
    task: str, outputs: int, extra: dict[str, Any]
) -> None:
    x, _ = _data()
    rng = np.random.default_rng(1)
    y = (
        rng.normal(size=(len(x), outputs)).astype("float32")
        if task == "regression"
        else rng.integers(0, 2, (len(x), outputs)).astype("float32")
    )
    if task == "binary":
        y = y[:, 0]
    builder = MLPHyperModel(task, (8,), outputs)
    values = [dict(BASE, **extra, optimizer="adam", learning_rate=lr) for lr in (0.01, 0.003)]
    template = TowerTemplate(builder, _hp(values[0]), 3)
    stack = stacked_towers(template.model, 2, x, y, x[:20], y[:20], batch_size=16)
    stack.load(
        [template.initial_weights(s) for s in (3, 4)],
        *tower_settings(template, [_hp(v) for v in values]),
    )
    logs = stack.train_epoch(np.arange(len(x)))
    logs.update(stack.evaluate())
    for k, seed in enumerate((3, 4)):
        keras.utils.set_random_seed(seed)
        alone = builder.build(_hp(values[k]))
        history = _assert_tower_is_its_trial(stack, logs, k, alone, x, y, task)
        assert sorted(logs) == sorted(history)
