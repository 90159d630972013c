"""A trial's record in the making, the same for every executor: the callbacks that watch its
training and the rule that turns what they saw into its score, best epoch, status and error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt

from tuner.execution.base import TrialContext
from tuner.execution.callbacks import (
    BestEpoch,
    History,
    RequireObjective,
    StopOnBudget,
    StopOnDivergence,
    StopOnPruning,
    early_stopping,
)
from tuner.objectives import logged, spec_of
from tuner.pruning import PruningRule
from tuner.trial import COMPLETED, FAILED, PRUNED, STOPPED, TrialRecord


def new_record(
    trial_id: str, hyperparameters: dict[str, Any], initial_epoch: int = 0
) -> TrialRecord:
    """A trial's record before it trains: failed until `TrialCallbacks.finish` says otherwise."""
    return TrialRecord(
        trial_id=trial_id,
        status=FAILED,
        hyperparameters=hyperparameters,
        initial_epoch=initial_epoch,
    )


def objective_histories(
    records: Sequence[TrialRecord], objective: kt.Objective
) -> list[list[float]]:
    """The objective, epoch by epoch, of every record whose score ranks it: what a pruner
    compares a trial with (a failed trial's epochs judge nothing)."""
    return [list(r.history.get(objective.name, [])) for r in records if r.scored]


class TrialCallbacks:
    """The callbacks one trial's record is made of: every epoch's metrics (`history`), a stop
    on divergence (`stop`), the objective required among the metrics, the best epoch (`best`,
    keeping its weights when `context` says they may be saved), and Keras' early stopping when
    the campaign sets `early_stopping`, when the campaign has a budget, the stop once it is
    spent (`budget`; it counts each epoch unless `counts_epochs` is false), and last, with a
    `pruning` rule, the stop when the trial falls behind the saved trials (`context.saved`)
    and the `peers` (earlier towers of its pack: their objective histories so far).
    `callbacks` lists them in the order they run."""

    def __init__(
        self,
        objective: kt.Objective,
        context: TrialContext,
        early_stopping_settings: dict[str, Any] | None = None,
        counts_epochs: bool = True,
        pruning: PruningRule | None = None,
        peers: Callable[[], Sequence[Sequence[float]]] = lambda: (),
    ) -> None:
        self.history, self.stop = History(), StopOnDivergence()
        self.best = BestEpoch(
            objective,
            keep_beyond=context.keep_weights_beyond,
            keep_all=context.keep_all_weights,
        )
        self.callbacks: list[keras.callbacks.Callback] = [
            self.history,
            self.stop,
            # Every objective Keras logs (several: `tuner.objectives`), the first picking
            # the best epoch.
            *(RequireObjective(name) for name in logged(spec_of(objective))),
            self.best,
        ]
        if early_stopping_settings:
            self.callbacks.append(early_stopping(objective, early_stopping_settings))
        self.budget: StopOnBudget | None = None
        if context.budget.limited:
            self.budget = StopOnBudget(context.budget, counts=counts_epochs)
            self.callbacks.append(self.budget)
        self.pruning: StopOnPruning | None = None
        if pruning is not None:
            self.pruning = StopOnPruning(
                pruning, objective, lambda: objective_histories(context.saved(), objective), peers
            )
            self.callbacks.append(self.pruning)

    def finish(self, record: TrialRecord, initial_epoch: int = 0) -> bool:
        """Write what the callbacks saw into `record`: its history and epochs run, its score
        and best epoch (counted from the start of training, `initial_epoch` epochs before this
        fit), and its status. A trial that diverged failed, with the reason as its error; one
        with no error and a score completed, pruned when the pruner cut it short, or stopped
        when the budget did. True when its score ranks it (completed, stopped or pruned)."""
        record.history = self.history.values
        record.epochs_run = self.history.epochs
        if self.best.epoch is not None:
            record.score, record.best_epoch = self.best.score, initial_epoch + self.best.epoch
        if self.stop.reason:
            record.error = f"diverged: {self.stop.reason}"
        elif record.error is None and record.score is not None:
            if self.pruning is not None and self.pruning.cut:
                record.status = PRUNED
            else:
                record.status = STOPPED if self.budget and self.budget.cut else COMPLETED
        return record.scored
