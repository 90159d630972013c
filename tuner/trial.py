"""The record one finished trial leaves behind: the seam between the runner and the results."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPLETED = "completed"
FAILED = "failed"


@dataclass
class TrialRecord:
    """Everything known about one trial once it has ended.

    `history` maps each logged metric (``loss``, ``val_accuracy``, ...) to its per-epoch values,
    epoch 1 first. `best_epoch` is 1-based and refers to the objective's best value; `score`
    is the objective at that epoch (None when the trial failed before its first epoch ended).
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

    def metrics_at_best_epoch(self) -> dict[str, float]:
        """The value of every metric at the best epoch (empty when there is none)."""
        if self.best_epoch is None:
            return {}
        index = self.best_epoch - 1
        return {name: values[index] for name, values in self.history.items() if index < len(values)}
