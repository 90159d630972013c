"""The store contract: the one owner of a campaign's results. The loop saves each trial's
outcome; tables, plots, the report and the API read what the store gives back."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from tuner import objectives
from tuner.direction import loss
from tuner.results.pareto import pareto_mask
from tuner.results.tables import history_table, ranked_table
from tuner.trial import TrialRecord

if TYPE_CHECKING:  # `tuner results` reads tables without starting Keras
    import keras_tuner as kt

    from tuner.execution.base import TrialOutcome


def trial_order(trial_id: str) -> tuple[int, str]:
    """Trials sort by number ("2" before "10"), then by name."""
    return (int(trial_id), trial_id) if trial_id.isdigit() else (10**9, trial_id)


class Store(abc.ABC):
    """Trial records and what is kept of each trial (the top `keep_top` models, Hyperband
    parents), for one campaign. Subclasses decide where they live."""

    def __init__(
        self,
        objective: kt.Objective,
        *,
        keep_top: int = 1,
        keeps_parents: bool = False,
        hyperparameter_names: Sequence[str] = (),
    ) -> None:
        self.objective = objective
        # Several objectives (a `CampaignObjective`'s): trials rank by the Pareto front.
        self.objectives = objectives.spec_of(objective)
        self.keep_top = keep_top
        self.keeps_parents = keeps_parents
        self.hyperparameter_names = list(hyperparameter_names)
        self._records: dict[str, TrialRecord] = {}

    # -- reading ----------------------------------------------------------------------------
    @property
    def direction(self) -> str:
        return self.objective.direction

    def records(self) -> list[TrialRecord]:
        """Every finished trial's record, in trial order."""
        return [self._records[k] for k in sorted(self._records, key=trial_order)]

    def ranked(self) -> list[TrialRecord]:
        """Scored trials (completed, or stopped by the budget), best first (ties keep trial
        order). With several objectives, the Pareto-optimal trials come first, each group by
        the first objective."""
        done = [r for r in self.records() if r.scored and r.score is not None]
        if len(self.objectives) == 1:
            return sorted(done, key=lambda r: loss(float(r.score), self.direction))  # type: ignore[arg-type]
        directions = [d for _, d in self.objectives]
        front = pareto_mask([objectives.values(r, self.objectives) for r in done], directions)
        order = {r.trial_id: not on for r, on in zip(done, front)}
        return sorted(
            done,
            key=lambda r: (order[r.trial_id], loss(float(r.score), self.direction)),  # type: ignore[arg-type]
        )

    def oracle_metrics(self, record: TrialRecord) -> dict[str, float]:
        """What the oracle is told of a scored trial: its score as the objective, and the
        other objectives' values (those it has) when there are several."""
        return objectives.told(record, self.objectives)

    def best(self) -> TrialRecord | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def entry_score(self) -> float | None:
        """The score a trial must beat to enter the top `keep_top` (None: any trial enters;
        with several objectives any trial may, as a new point on the front)."""
        if len(self.objectives) > 1:
            return None
        ranked = self.ranked()
        return None if len(ranked) < self.keep_top else ranked[self.keep_top - 1].score

    def table(self) -> pd.DataFrame:
        """The ranked trials table (see `tuner.results.ranked_table`)."""
        return ranked_table(
            self.records(),
            objective=self.objective.name,
            direction=self.direction,
            hyperparameter_names=self.hyperparameter_names,
            objectives=self.objectives,
        )

    def history(self) -> pd.DataFrame:
        """One row per trial and epoch."""
        return history_table(self.records())

    # -- writing ----------------------------------------------------------------------------
    def save_outcome(self, outcome: TrialOutcome) -> None:
        """Called by the loop once per finished trial: keep its record, its model (weights and
        optimizer state at its best epoch) when it is in the top `keep_top` (dropping the one
        it displaces) and, for strategies that train from a parent, its weights and optimizer
        state."""
        record = outcome.record
        self._records[record.trial_id] = record
        self._save_record(record)
        top = {r.trial_id for r in self.ranked()[: self.keep_top]}
        kept = self.keeps_parents or record.trial_id in top
        model = outcome.kept_model() if kept else outcome.model
        if model is not None and outcome.best_weights is not None:
            model.set_weights(outcome.best_weights)
        if model is not None and outcome.best_optimizer is not None:
            from tuner.execution.optimizer_state import set_optimizer_values

            set_optimizer_values(model, outcome.best_optimizer)
        if model is not None and self.keeps_parents:
            self._save_parent(record.trial_id, model)
        if model is not None and record.trial_id in top:
            self._save_model(record.trial_id, model)
        for trial_id in self._saved_models():
            if trial_id not in top:
                self._drop_model(trial_id)

    def flush(self) -> None:  # noqa: B027 - a hook: stores with derived views override it
        """Called by the loop after each batch of trials and at the end: bring derived views
        (tables on disk) up to date. Nothing to do in memory."""

    @abc.abstractmethod
    def _save_record(self, record: TrialRecord) -> None: ...

    @abc.abstractmethod
    def _save_model(self, trial_id: str, model: Any) -> None: ...

    @abc.abstractmethod
    def _drop_model(self, trial_id: str) -> None: ...

    @abc.abstractmethod
    def _saved_models(self) -> list[str]: ...

    @abc.abstractmethod
    def _save_parent(self, trial_id: str, model: Any) -> None: ...

    @abc.abstractmethod
    def restore_parent(self, model: Any, trial_id: str) -> None:
        """Load a parent trial's weights and optimizer state into `model` (Hyperband's promoted
        trials)."""

    @abc.abstractmethod
    def load_model(self, trial_id: str) -> Any:
        """A kept trial's model at its best epoch."""
