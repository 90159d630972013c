"""A store that keeps everything in memory: for the scikit-learn estimators and fast tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuner.store.base import Store
from tuner.trial import TrialRecord, canonical_id

if TYPE_CHECKING:
    import keras


class MemoryStore(Store):
    """Records, kept models (as weight copies of a clone) and parents, in memory only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved_records: list[TrialRecord] = []
        self._models: dict[str, keras.Model] = {}
        self._parents: dict[str, tuple[list[Any], list[Any] | None]] = {}

    def _save_record(self, record: TrialRecord) -> None:
        self.saved_records.append(record)

    def _save_model(self, trial_id: str, model: Any) -> None:
        # The executor may train the next trial on this very model: keep a copy.
        import keras

        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        self._models[trial_id] = copy

    def _drop_model(self, trial_id: str) -> None:
        self._models.pop(trial_id, None)

    def _saved_models(self) -> list[str]:
        return list(self._models)

    def _save_parent(self, trial_id: str, model: Any) -> None:
        from tuner.execution.optimizer_state import optimizer_values

        self._parents[trial_id] = (model.get_weights(), optimizer_values(model))

    def restore_parent(self, model: Any, trial_id: str) -> None:
        # KerasTuner names the parent by its engine id ("07"); records by `canonical_id`.
        trial_id = canonical_id(trial_id)
        if trial_id in self._parents:
            from tuner.execution.optimizer_state import set_optimizer_values

            weights, optimizer = self._parents[trial_id]
            model.set_weights(weights)
            if optimizer is not None:
                set_optimizer_values(model, optimizer)

    def load_model(self, trial_id: str) -> Any:
        if trial_id not in self._models:
            raise KeyError(f"no kept model for trial {trial_id!r}; kept: {sorted(self._models)}")
        return self._models[trial_id]
