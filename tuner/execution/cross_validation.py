"""Cross-validated trials (``cross_validation = K``): a wrapper around whichever executor the
run builds, one per fold.

The wrapper hands the same batch of trials to each fold's executor in turn (so trials of one
architecture still train packed, fold by fold), then combines each trial's K outcomes into one
record: its history is the mean over the folds of every metric, epoch by epoch (over the epochs
every fold trained, when early stopping ended some sooner); its best epoch is the best of that
mean curve, its score the mean curve's objective there, which is the mean of the folds' scores
at that epoch (`cv_scores`; `cv_std` their standard deviation, NumPy's, with ``ddof=0`` as
scikit-learn's ``std_test_score``). Each fold's own history is kept (`fold_histories`).
`epochs_run` and `duration_s` count every fold's epochs and time (a budget counts them all).
A trial that fails in any fold fails, with that fold's error; one the campaign's pruner stops
in a fold (judged, as any trial is, against the saved trials' mean curves) is pruned, scored on
the folds it trained, and so is one the budget stopped (status ``stopped``). None of them trains
its later folds.

Every fold of a trial starts from the same initial weights (its executor seeds the build with
the trial's seed). The model kept for a trial that enters the top ``keep_top`` is refit on all
the training and validation data, for the trial's best epoch count, from those same initial
weights (`refit`): the fold models are not kept.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tuner import backends
from tuner.builders import has_own_fit
from tuner.datasets import Dataset
from tuner.errors import Interrupted
from tuner.execution.base import Executor, TrialContext, TrialOutcome
from tuner.execution.sequential import trial_batch_size, trial_seed
from tuner.folds import pooled
from tuner.trial import COMPLETED, FAILED, PRUNED, STOPPED, TrialRecord


def _never_beaten(objective: kt.Objective) -> float:
    """A score no epoch beats: the folds' best weights are never copied (not kept)."""
    return math.inf if objective.direction == "max" else -math.inf


def mean_history(histories: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Every metric all `histories` logged, averaged epoch by epoch over the epochs all of
    them trained."""
    if not histories:
        return {}
    names = [n for n in histories[0] if all(n in h for h in histories[1:])]
    epochs = min((len(h[n]) for h in histories for n in names), default=0)
    return {
        name: [float(np.mean([h[name][e] for h in histories])) for e in range(epochs)]
        for name in names
    }


def best_epoch(values: Sequence[float], objective: kt.Objective) -> int | None:
    """The 1-based epoch whose finite value is best by `objective` (the first of equals)."""
    best: tuple[int, float] | None = None
    for epoch, value in enumerate(values, start=1):
        if math.isfinite(value) and (best is None or objective.better_than(value, best[1])):
            best = (epoch, value)
    return None if best is None else best[0]


def combine(
    records: Sequence[TrialRecord], objective: kt.Objective, k: int | None = None
) -> TrialRecord:
    """One trial's record from its K folds' records (in fold order)."""
    k = k or len(records)
    first = records[0]
    combined = TrialRecord(
        trial_id=first.trial_id,
        status=FAILED,
        hyperparameters=dict(first.hyperparameters),
        epochs_run=sum(r.epochs_run for r in records),
        duration_s=sum(r.duration_s for r in records),
        n_params=first.n_params,
        device=first.device,
        fold_histories=[r.history for r in records],
    )
    failed = next(((i, r) for i, r in enumerate(records) if not r.scored), None)
    if failed is not None:
        i, record = failed
        combined.history = record.history
        combined.error = f"fold {i + 1} of {k}: {record.error or 'no score'}"
        return combined
    combined.history = mean_history([r.history for r in records])
    epoch = best_epoch(combined.history.get(objective.name, []), objective)
    if epoch is None:
        combined.error = f"no finite mean of {objective.name!r} over the {k} folds at any epoch"
        return combined
    scores = [float(r.history[objective.name][epoch - 1]) for r in records]
    combined.best_epoch, combined.score = epoch, combined.history[objective.name][epoch - 1]
    combined.cv_scores, combined.cv_std = scores, float(np.std(scores))
    latencies = [r.latency_ms for r in records if r.latency_ms is not None]
    combined.latency_ms = float(np.mean(latencies)) if latencies else None
    statuses = {r.status for r in records}
    combined.status = (
        PRUNED if PRUNED in statuses else STOPPED if STOPPED in statuses else COMPLETED
    )
    return combined


def _goes_on(record: TrialRecord) -> bool:
    """Whether a trial trains its next fold: not after failing, being pruned or being stopped
    by the budget in this one."""
    return record.status == COMPLETED


class Refit:
    """Builds a trial's model afresh and trains it on every training and validation sample
    (`pooled`), for a given number of epochs: the model a cross-validated trial keeps."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        dataset: Dataset,
        *,
        seed: int,
        precision: str | None = None,
    ) -> None:
        self.hypermodel, self.seed, self.precision = hypermodel, seed, precision
        self.x, self.y = pooled(dataset)

    def __call__(self, trial: kt.engine.trial.Trial, epochs: int) -> keras.Model:
        hp = trial.hyperparameters.copy()
        keras.utils.set_random_seed(trial_seed(self.seed, trial.trial_id))  # the folds' start
        with backends.dtype_policy(self.precision):
            model = self.hypermodel.build(hp)
        keras.utils.set_random_seed(self.seed)  # the batches' order, as the folds' is
        common: dict[str, Any] = dict(x=self.x, y=self.y, epochs=epochs, verbose=0)
        if has_own_fit(self.hypermodel):
            self.hypermodel.fit(hp, model, **common)
        else:
            model.fit(**common, batch_size=trial_batch_size(hp), shuffle=True)
        return model


class CrossValidatedExecutor:
    """Runs each batch of trials through `folds` (one executor per fold, each on its fold's
    data) and gives each trial one record combined from its folds (`combine`); a kept trial's
    model comes from `refit`. Takes as many trials at once as the fold executors do."""

    def __init__(
        self,
        folds: Sequence[Executor],
        objective: kt.Objective,
        refit: Callable[[kt.engine.trial.Trial, int], Any],
    ) -> None:
        self.folds, self.objective, self.refit = list(folds), objective, refit
        wanted = getattr(self.folds[0], "max_pack", 1)
        self.max_pack = wanted if isinstance(wanted, int) else 1

    @property
    def k(self) -> int:
        return len(self.folds)

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        folds_of: list[list[TrialOutcome]] = [[] for _ in trials]
        try:
            for executor in self.folds:
                standing = [
                    i for i, seen in enumerate(folds_of) if all(_goes_on(o.record) for o in seen)
                ]
                if not standing:
                    break
                fold_context = TrialContext(
                    keep_weights_beyond=_never_beaten(self.objective),
                    any_completed=context.any_completed,
                    on_epoch=context.on_epoch,
                    # A trial is saved once all its folds have trained.
                    save_outcomes=lambda outcomes: None,
                    budget=context.budget,
                    saved=context.saved,
                )
                ran = executor.run([trials[i] for i in standing], fold_context)
                for i, outcome in zip(standing, ran):
                    folds_of[i].append(outcome)
                context.any_completed |= fold_context.any_completed
        except KeyboardInterrupt:  # every trial of the batch still lacked some fold
            raise Interrupted([t.trial_id for t in trials]) from None
        outcomes = []
        for trial, seen in zip(trials, folds_of):
            record = combine([o.record for o in seen], self.objective, self.k)
            outcome = TrialOutcome(record, pack_size=seen[0].pack_size)
            if record.scored and record.best_epoch is not None:
                outcome.make_model = functools.partial(self.refit, trial, record.best_epoch)
            outcomes.append(outcome)
        return outcomes
