"""The optimizer's state goes where the weights go: Hyperband parents and kept models."""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np
import pytest

from tuner import api

SKIPPED = "Skipping variable loading"

pytestmark = pytest.mark.slow


def _iris() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x.astype("float32"), y


def _skipped(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if SKIPPED in str(w.message)]


class _OptimizerLog(keras.callbacks.Callback):
    """Each fit's optimizer state at its start and at every epoch's end: the step count and a
    sum of each slot, into `FITS` (one entry a fit, in the order the trials ran)."""

    FITS: list[dict[str, list[Any]]] = []

    def _state(self) -> tuple[int, list[float]]:
        optimizer = self.model.optimizer
        if not optimizer.built:
            return 0, []
        slots = [v for v in optimizer.variables if len(v.shape) > 0]
        sums = [float(np.sum(np.abs(keras.ops.convert_to_numpy(v)))) for v in slots]
        return int(keras.ops.convert_to_numpy(optimizer.iterations)), sums

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.fit = {"start": [self._state()], "epochs": []}
        _OptimizerLog.FITS.append(self.fit)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.fit["epochs"].append(self._state())


def _adam_build(hp: Any) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_a_promoted_trial_continues_with_its_parents_optimizer_state(tmp_path):
    x, y = _iris()
    _OptimizerLog.FITS.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = api.search(
            _adam_build,
            x[:120],
            y[:120],
            validation_data=(x[120:], y[120:]),
            objective="val_accuracy",
            strategy="hyperband",
            strategy_options={"max_epochs": 2, "factor": 2},
            space={"lr": {"min": 1e-3, "max": 3e-2, "sampling": "log"}, "batch_size": 30},
            max_trials=3,
            name="hb",
            results_dir=str(tmp_path),
            callbacks=[_OptimizerLog()],
        )
    assert _skipped(caught) == []
    records = found.records  # in trial order, the order they ran in
    fits = _OptimizerLog.FITS
    assert len(fits) == len(records)
    assert [len(f["epochs"]) for f in fits] == [r.epochs_run for r in records]
    by_id = {r.trial_id: (r, f) for r, f in zip(records, fits)}
    promoted = [r for r in records if r.hyperparameters.get("tuner/trial_id") is not None]
    assert promoted
    steps = math.ceil(120 / 30)
    for record in promoted:
        parent, parent_fit = by_id[str(record.hyperparameters["tuner/trial_id"])]
        iterations, slots = by_id[record.trial_id][1]["start"][0]
        # The parent's state at its best epoch, the one whose weights the trial starts from.
        expected_iterations, expected_slots = parent_fit["epochs"][parent.best_epoch - 1]
        assert iterations == expected_iterations == parent.best_epoch * steps > 0
        assert slots == pytest.approx(expected_slots, rel=1e-6) and min(slots) > 0
    for record, fit in zip(records, fits):
        if record not in promoted:
            assert fit["start"][0][0] == 0  # a fresh trial starts a fresh optimizer


def test_the_best_model_of_a_packed_campaign_loads_with_its_optimizer_state(tmp_path, monkeypatch):
    from tuner.execution.packed import PackedExecutor

    packs: list[int] = []
    run_pack = PackedExecutor.run_pack

    def counted(self: PackedExecutor, trials: Any, context: Any) -> Any:
        packs.append(len(trials))
        return run_pack(self, trials, context)

    monkeypatch.setattr(PackedExecutor, "run_pack", counted)
    x, y = _iris()
    space = {
        "learning_rate": [0.01, 0.02, 0.05],
        "units": 8,
        "optimizer": "adam",
        "batch_size": 32,
    }
    found = api.search(
        "mlp",
        x[:120],
        y[:120],
        validation_data=(x[120:], y[120:]),
        objective="val_accuracy",
        strategy="grid",
        space=space,
        max_trials=3,
        epochs=3,
        name="packed",
        results_dir=str(tmp_path),
    )
    assert packs == [3]
    best = next(r for r in found.records if r.trial_id == str(found.best_trial_id))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = api.load_results(tmp_path / "packed").best_models(1)[0]
    assert _skipped(caught) == []
    optimizer = model.optimizer
    steps = math.ceil(120 / 32)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == best.best_epoch * steps
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(
        best.hyperparameters["learning_rate"]
    )
    velocities = [v for v in optimizer.variables if "velocity" in v.path]
    assert velocities and all(np.abs(keras.ops.convert_to_numpy(v)).sum() > 0 for v in velocities)
    with warnings.catch_warnings(record=True) as caught:  # it goes on training from there
        warnings.simplefilter("always")
        model.fit(x[:120], y[:120], batch_size=32, epochs=1, verbose=0)
    assert _skipped(caught) == []
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == (best.best_epoch + 1) * steps
