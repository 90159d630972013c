"""The record one finished trial leaves behind: the seam between the executors, the store and
the results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TrialStatus(enum.StrEnum):
    """How a trial ended. A `str` enum, so records and tables hold plain ``"completed"``."""

    COMPLETED = "completed"
    FAILED = "failed"
    # Cut short by the campaign's budget (max_time, max_epochs_total) at an epoch boundary:
    # scored and ranked like a completed trial, on the epochs it trained.
    STOPPED = "stopped"
    # Stopped by the campaign's pruner (`tuner.pruning`) at an epoch's end, its objective
    # worse than earlier trials' there: ranked on its score, and marked.
    PRUNED = "pruned"

    def __str__(self) -> str:
        return self.value


COMPLETED = TrialStatus.COMPLETED
FAILED = TrialStatus.FAILED
STOPPED = TrialStatus.STOPPED
PRUNED = TrialStatus.PRUNED
SCORED = (COMPLETED, STOPPED, PRUNED)  # the statuses whose score ranks a trial


def canonical_id(trial_id: str) -> str:
    """The one spelling of a trial's id that users see and records keep: its number, without
    the zero padding KerasTuner gives it to the width of ``max_trials`` ("07" -> "7"). An id
    that is not a number is kept as it is."""
    text = str(trial_id)
    return str(int(text)) if text.isdigit() else text


@dataclass
class TrialRecord:
    """Everything known about one trial once it has ended.

    `history` maps each logged metric (``loss``, ``val_accuracy``, ...) to its per-epoch values
    for the epochs this trial trained. `initial_epoch` counts the epochs trained before them (a
    Hyperband trial that continues its parent's training), so epoch numbers, `best_epoch`
    included, count from the start of training. `score` is the objective at `best_epoch` (None
    when the trial failed before its first epoch ended); `epochs_run` is the epochs it trained.
    `device` is where it trained (``"CPU"``, ``"GPU:0 (NVIDIA H100 80GB HBM3)"``, see
    `tuner.backends.device`); None in records saved before it was recorded. `trial_id` is
    kept as `canonical_id` spells it, whatever id KerasTuner's engine gave the trial.
    `latency_ms` is the trained model's prediction time per sample (`tuner.execution.latency`;
    None when it could not be measured, or in records saved before it was).
    With ``cross_validation = K`` (`tuner.execution.cross_validation`), `history` is the mean
    over the folds, `score` the mean of `cv_scores` (each fold's objective at `best_epoch`),
    `cv_std` their standard deviation, and `fold_histories` each fold's own history; all three
    are None otherwise.

    A Population Based Training member also keeps its `lineage` (``{"epoch", "from"}``: at the
    end of that epoch it copied member ``from``'s weights and optimizer state) and its
    `schedule`: the values its final weights were trained with, per epoch range, along that
    lineage (``{"start_epoch", "end_epoch", "member", "values"}``; `tuner.replay_pbt` trains
    it again). None for every other trial.
    """

    trial_id: str
    status: str
    hyperparameters: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    score: float | None = None
    best_epoch: int | None = None
    epochs_run: int = 0
    duration_s: float = 0.0
    n_params: int = 0
    error: str | None = None
    initial_epoch: int = 0
    device: str | None = None
    latency_ms: float | None = None
    cv_scores: list[float] | None = None
    cv_std: float | None = None
    fold_histories: list[dict[str, list[float]]] | None = None
    lineage: list[dict[str, Any]] | None = None
    schedule: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        self.status = TrialStatus(self.status).value
        # Built from KerasTuner's trials ("07") and read from older folders alike: one spelling.
        self.trial_id = canonical_id(self.trial_id)

    @property
    def completed(self) -> bool:
        return self.status == TrialStatus.COMPLETED

    @property
    def scored(self) -> bool:
        """Whether its score ranks it: completed, stopped by the budget, or pruned."""
        return self.status in SCORED

    def metrics_at_best_epoch(self) -> dict[str, float]:
        """The value of every metric at the best epoch (empty when there is none)."""
        if self.best_epoch is None:
            return {}
        index = self.best_epoch - self.initial_epoch - 1
        return {
            name: values[index] for name, values in self.history.items() if 0 <= index < len(values)
        }
