"""Divergence: one rule (a non-finite loss, or one far above the first batch's) stops a trial
and fails it, alone or as a tower of a pack."""

from __future__ import annotations

import math
import re
from typing import Any

import keras_tuner as kt
import numpy as np
import pytest

from tuner import api
from tuner.builders.mlp import MLPHyperModel
from tuner.datasets import load_dataset
from tuner.execution import PackedExecutor, TrialContext
from tuner.execution.divergence import FACTOR, Divergence
from tuner.execution.pipeline import InputPipeline

DIVERGED = re.compile(
    r"diverged: loss (\S+) at epoch (\d+) is more than 1000x its first batch's (\S+)"
)


def test_the_rule_names_the_loss_the_epoch_and_the_start() -> None:
    rule = Divergence()
    assert FACTOR == 1000.0
    assert rule.check(5e20, 1) is None  # no start yet: only non-finite losses count
    rule.start(float("nan"))  # a start must be finite
    rule.start(2.3)
    rule.start(0.001)  # the first batch's loss only
    assert rule.start_loss == 2.3
    assert rule.check(2300.0, 2) is None  # 1000x is still healthy; more is not
    assert (
        rule.check(5.1e20, 3) == "loss 5.1e+20 at epoch 3 is more than 1000x its first batch's 2.3"
    )
    assert rule.check(math.inf, 4) == "loss became inf at epoch 4"
    assert rule.check(math.nan, 5) == "loss became nan at epoch 5"
    negative = Divergence()
    negative.start(-0.5)  # a loss that can be negative gives no scale: only non-finite counts
    assert negative.check(1e30, 1) is None


def _user_build(hp: kt.HyperParameters) -> Any:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(hp.Choice("lr", [0.05, 1000.0])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.mark.slow
def test_sgd_at_1000_alone_is_failed_as_diverged_and_a_healthy_trial_completes(tmp_path):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    found = api.search(
        _user_build,
        x[::3],
        y[::3],
        validation_split=0.25,
        objective="val_accuracy",
        strategy="grid",
        space={"lr": [0.05, 1000.0]},
        max_trials=2,
        epochs=3,
        name="wild",
        results_dir=str(tmp_path),
    )
    by_rate = {r.hyperparameters["lr"]: r for r in found.records}
    healthy, wild = by_rate[0.05], by_rate[1000.0]
    assert (healthy.status, healthy.epochs_run, healthy.error) == ("completed", 3, None)
    assert wild.status == "failed" and wild.epochs_run == 1  # stopped at once
    match = DIVERGED.fullmatch(wild.error or "")
    assert match, wild.error
    loss, epoch, start = float(match[1]), int(match[2]), float(match[3])
    assert epoch == 1 and math.isfinite(loss) and loss > 1000 * start
    assert loss == pytest.approx(wild.history["loss"][0], rel=1e-2)
    assert 0.5 < start < 10.0  # a cross-entropy at the start, not a blown-up loss


@pytest.mark.slow
def test_a_tower_at_1000_is_failed_and_leaves_its_pack_untouched() -> None:
    dataset = load_dataset("iris", max_samples=60)
    common = dict(optimizer="sgd", units=8, epochs=3, batch_size=16)

    def run(rates: list[float]) -> list[Any]:
        trials = []
        for i, rate in enumerate(rates):
            hp = kt.HyperParameters()
            for name, value in dict(common, learning_rate=rate).items():
                hp.Fixed(name, value)
            trials.append(kt.engine.trial.Trial(hp, trial_id=str(i)))
        executor = PackedExecutor(
            MLPHyperModel.for_data(dataset.spec),
            InputPipeline(dataset),
            objective=kt.Objective("val_accuracy", "max"),
            seed=0,
        )
        outcomes = executor.run(trials, TrialContext())
        assert [o.pack_size for o in outcomes] == [3, 3, 3]
        return [o.record for o in outcomes]

    calm = run([0.05, 0.1, 0.3])
    wild = run([0.05, 1000.0, 0.3])
    assert wild[1].status == "failed" and wild[1].epochs_run == 1
    match = DIVERGED.fullmatch(wild[1].error or "")
    assert match and int(match[2]) == 1, wild[1].error
    assert float(match[1]) == pytest.approx(wild[1].history["loss"][0], rel=1e-2)
    for k in (0, 2):  # the healthy towers: completed, and bit for bit as beside a calm tower
        assert (wild[k].status, wild[k].epochs_run) == ("completed", 3)
        assert wild[k].history == calm[k].history
    assert calm[1].status == "completed"
    np.testing.assert_array_less(calm[1].history["loss"], 1000 * 3.0)
