"""A trial's record in the making (`tuner.execution.records`): one rule for both executors."""

from __future__ import annotations

from typing import Any

import keras
import keras_tuner as kt

from tuner.execution import TrialContext
from tuner.execution.budget import Budget
from tuner.execution.callbacks import (
    BestEpoch,
    History,
    RequireObjective,
    StopOnBudget,
    StopOnDivergence,
)
from tuner.execution.records import TrialCallbacks, new_record
from tuner.trial import COMPLETED, FAILED

OBJECTIVE = kt.Objective("val_loss", "min")


class _Model:
    """What the callbacks read of a model."""

    stop_training = False

    def get_weights(self) -> list[Any]:
        return [1.0]

    def get_optimizer_values(self) -> None:
        return None


def _trained(losses: list[tuple[float, float]], **settings: Any) -> TrialCallbacks:
    """The callbacks after epochs of (loss, val_loss), the first batch's loss 1.0."""
    watch = TrialCallbacks(OBJECTIVE, TrialContext(), settings or None)
    for callback in watch.callbacks:
        callback.set_model(_Model())
        callback.on_train_begin()
        callback.on_train_batch_end(0, {"loss": 1.0})
    for epoch, (loss, val_loss) in enumerate(losses):
        for callback in watch.callbacks:
            callback.on_epoch_end(epoch, {"loss": loss, "val_loss": val_loss})
    return watch


def test_the_callbacks_run_in_one_order_early_stopping_last() -> None:
    kinds = [type(c) for c in TrialCallbacks(OBJECTIVE, TrialContext()).callbacks]
    assert kinds == [History, StopOnDivergence, RequireObjective, BestEpoch]
    watch = TrialCallbacks(OBJECTIVE, TrialContext(), {"patience": 1})
    assert isinstance(watch.callbacks[-1], keras.callbacks.EarlyStopping)
    assert watch.callbacks[-1].patience == 1 and len(watch.callbacks) == 5
    # A campaign with a budget stops its trials last, once the budget is spent.
    budgeted = TrialContext(budget=Budget(max_epochs=3))
    assert isinstance(TrialCallbacks(OBJECTIVE, budgeted).callbacks[-1], StopOnBudget)


def test_a_trial_with_a_score_completes_its_best_epoch_counted_from_the_start() -> None:
    record = new_record("4", {"units": 8}, initial_epoch=2)
    assert record.status == FAILED
    assert _trained([(0.9, 0.5), (0.8, 0.3), (0.7, 0.4)]).finish(record, initial_epoch=2)
    assert record.status == COMPLETED and record.error is None
    assert (record.score, record.best_epoch, record.epochs_run) == (0.3, 4, 3)
    assert record.history == {"loss": [0.9, 0.8, 0.7], "val_loss": [0.5, 0.3, 0.4]}


def test_a_diverged_trial_fails_with_the_reason_though_it_has_a_score() -> None:
    record = new_record("1", {})
    assert not _trained([(0.9, 0.5), (float("nan"), float("nan"))]).finish(record)
    assert record.status == FAILED
    assert record.error == "diverged: loss became nan at epoch 2"
    assert (record.score, record.best_epoch, record.epochs_run) == (0.5, 1, 2)


def test_an_error_or_no_score_is_a_failure() -> None:
    record = new_record("2", {})
    record.error = "ValueError: bad batch"
    assert not _trained([(0.9, 0.5)]).finish(record)
    assert record.status == FAILED and record.error == "ValueError: bad batch"
    unscored = new_record("3", {})
    assert not _trained([]).finish(unscored)
    assert (unscored.status, unscored.score, unscored.best_epoch) == (FAILED, None, None)
