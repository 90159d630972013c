"""The store on disk: a campaign's records, kept models and tables in its results folder,
written through `ResultsFolder` (which knows where each file goes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from tuner.files import write_if_changed
from tuner.results.render import summary_markdown
from tuner.results.tables import HistoryCSV
from tuner.store.base import Store
from tuner.store.folder import ResultsFolder
from tuner.store.records import read_record
from tuner.trial import TrialRecord, canonical_id

if TYPE_CHECKING:  # imported where used: `tuner results` reads tables without Keras
    import keras
    import keras_tuner as kt


class DiskStore(Store):
    """A campaign's results folder. Records are the source of truth; the tables are rewritten
    from them (atomically) at every `flush`."""

    def __init__(
        self,
        folder: str | Path,
        objective: kt.Objective,
        *,
        keep_top: int = 1,
        keeps_parents: bool = False,
        hyperparameter_names: Sequence[str] = (),
        settings: dict[str, Any] | None = None,
        prepare_for_saving: Callable[[keras.Model], keras.Model] | None = None,
        notes: Sequence[str] = (),
    ):
        super().__init__(
            objective,
            keep_top=keep_top,
            keeps_parents=keeps_parents,
            hyperparameter_names=hyperparameter_names,
        )
        self.folder = Path(folder)
        self.files = ResultsFolder(self.folder)
        self.settings = dict(settings or {})
        self.prepare_for_saving = prepare_for_saving
        self.notes = list(notes)  # the summary's: what this campaign's backend does differently
        self._history_csv = HistoryCSV()
        for record in self.files.read_records():
            self._records[record.trial_id] = record

    def restore_from_tables(self) -> int:
        """Read back, from ``trials.csv`` and ``history.csv``, the trials the tables list but no
        record holds (a results folder committed or copied without its ``.engine/`` state);
        in memory only, nothing is written. Returns how many were restored."""
        restored = self.files.restore_records(self.files.table_trial_ids() - set(self._records))
        self._records.update(restored)
        return len(restored)

    @property
    def engine(self) -> Path:
        return self.files.engine

    @property
    def models(self) -> Path:
        return self.files.models

    def _save_record(self, record: TrialRecord) -> None:
        self.files.save_record(record)

    def _save_model(self, trial_id: str, model: keras.Model) -> None:
        self.models.mkdir(parents=True, exist_ok=True)
        trial_id = canonical_id(trial_id)
        temporary = self.files.temporary_model_path(trial_id)
        from tuner.builders.regularizers import plain_regularizers

        with plain_regularizers(model):  # loads with plain Keras, without this package
            saved = self.prepare_for_saving(model) if self.prepare_for_saving else model
            saved.save(temporary)
        temporary.replace(self.files.new_model_path(trial_id))
        for older in self.files.model_paths(trial_id)[1:]:
            older.unlink(missing_ok=True)  # the same trial's, under an older folder's padded id

    def _drop_model(self, trial_id: str) -> None:
        for path in self.files.model_paths(trial_id):
            path.unlink(missing_ok=True)

    def _saved_models(self) -> list[str]:
        return [canonical_id(name) for name in self.files.saved_model_ids()]

    def _parent_path(self, trial_id: str) -> Path:
        return self.files.parent_weights(trial_id)

    def _save_parent(self, trial_id: str, model: keras.Model) -> None:
        path = self._parent_path(trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(path)

    def restore_parent(self, model: keras.Model, trial_id: str) -> None:
        path = self._parent_path(trial_id)
        if path.is_file():
            from tuner.execution.optimizer_state import build_optimizer

            build_optimizer(model)  # or Keras skips the saved optimizer state
            model.load_weights(path)

    def load_model(self, trial_id: str) -> keras.Model:
        path = self.files.model_path(trial_id)
        if not path.is_file():
            raise FileNotFoundError(
                f"no saved model for trial {trial_id} in {self.models}; "
                f"keep_top decides how many are kept."
            )
        import keras

        return keras.models.load_model(path)

    def flush(self) -> None:
        # Unchanged files are not rewritten: a finished campaign's read-only folder reopens.
        records = self.records()
        table = self.table()
        write_if_changed(self.files.trials, table.to_csv(index=False))
        write_if_changed(self.files.history, self._history_csv.text(records))
        write_if_changed(
            self.files.summary,
            summary_markdown(
                table,
                objective=self.objective.name,
                direction=self.direction,
                settings=self.settings,
                notes=self.notes,
            ),
        )

    def write_preprocessing(self, data: dict[str, Any]) -> None:
        self.files.write_preprocessing(data)

    def write_search_space(self, config: dict[str, Any]) -> None:
        """Keep the oracle's space (a ``HyperParameters`` config; its current values, which
        change from trial to trial, are left out)."""
        self.files.write_search_space(config)

    def reload(self) -> None:
        """Read the records other processes saved into the folder since (workers' trials).
        A record, once saved, does not change: only new files are read."""
        for path in self.files.record_files():
            if canonical_id(path.stem) not in self._records:
                record = read_record(path)
                self._records[record.trial_id] = record

    def drop_models_outside_top(self) -> None:
        """Delete the kept models no longer in the top `keep_top` (the chief of a distributed
        campaign does this for its workers, which only add)."""
        top = {r.trial_id for r in self.ranked()[: self.keep_top]}
        for trial_id in self._saved_models():
            if trial_id not in top:
                self._drop_model(trial_id)


class SharedDiskStore(DiskStore):
    """A worker's view of a results folder that other processes write into at the same time.

    It saves its own trials' records (one file each, atomically: no two writers share a
    file) and the models of those that enter the top `keep_top` of every record saved so far;
    it never deletes a model or writes a table. The chief alone prunes the models and rewrites
    the tables from all the records: a worker that dropped a model saved by another, from a
    view that lacked the other's record, would lose a top model."""

    def records(self) -> list[TrialRecord]:
        self.reload()
        return super().records()

    def _drop_model(self, trial_id: str) -> None:
        pass

    def flush(self) -> None:
        pass


def write_results(
    folder: str | Path,
    records: Sequence[TrialRecord],
    *,
    objective: str,
    direction: str,
    settings: dict[str, Any],
    hyperparameter_names: Sequence[str] | None = None,
) -> None:
    """Write ``trials.csv``, ``history.csv`` and ``summary.md`` for `records` into `folder`
    (without starting Keras: the store reads only the objective's name and direction)."""
    store = DiskStore(
        folder,
        SimpleNamespace(name=objective, direction=direction),
        hyperparameter_names=hyperparameter_names or (),
        settings=settings,
    )
    store._records = {r.trial_id: r for r in records}
    Path(folder).mkdir(parents=True, exist_ok=True)
    store.flush()
