"""The results folder on disk, and the only module that knows its file names.

``<results_dir>/<name>/``: ``campaign.toml`` (the resolved campaign), ``trials.csv`` (best
first), ``history.csv``, ``summary.md``, ``models/<trial_id>.keras`` (the top `keep_top`),
``preprocessing.json``; the engine's state under ``.engine/`` (KerasTuner's oracle, one
``records/<trial_id>.json`` per finished trial, Hyperband parents' weights).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import pandas as pd

from tuner.builders.regularizers import plain_regularizers
from tuner.errors import ConfigError
from tuner.files import atomic_write_text
from tuner.results.render import summary_markdown
from tuner.results.tables import HistoryCSV
from tuner.store.base import Store
from tuner.trial import TrialRecord

TRIALS_FILE = "trials.csv"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.md"
CAMPAIGN_FILE = "campaign.toml"
PREPROCESSING_FILE = "preprocessing.json"
MODELS_FOLDER = "models"
ENGINE_FOLDER = ".engine"
RECORDS_FOLDER = "records"
WEIGHTS_FOLDER = "weights"


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
    ):
        super().__init__(
            objective,
            keep_top=keep_top,
            keeps_parents=keeps_parents,
            hyperparameter_names=hyperparameter_names,
        )
        self.folder = Path(folder)
        self.settings = dict(settings or {})
        self.prepare_for_saving = prepare_for_saving
        self._history_csv = HistoryCSV()
        for record in read_records(self.folder):
            self._records[record.trial_id] = record

    @property
    def engine(self) -> Path:
        return self.folder / ENGINE_FOLDER

    @property
    def models(self) -> Path:
        return self.folder / MODELS_FOLDER

    def _save_record(self, record: TrialRecord) -> None:
        atomic_write_text(
            self.engine / RECORDS_FOLDER / f"{record.trial_id}.json",
            json.dumps(asdict(record), default=float),
        )

    def _save_model(self, trial_id: str, model: keras.Model) -> None:
        self.models.mkdir(parents=True, exist_ok=True)
        temporary = self.models / f".{trial_id}.tmp.keras"
        with plain_regularizers(model):  # loads with plain Keras, without this package
            saved = self.prepare_for_saving(model) if self.prepare_for_saving else model
            saved.save(temporary)
        temporary.replace(self.models / f"{trial_id}.keras")

    def _drop_model(self, trial_id: str) -> None:
        (self.models / f"{trial_id}.keras").unlink(missing_ok=True)

    def _saved_models(self) -> list[str]:
        return [p.stem for p in self.models.glob("*.keras") if not p.name.startswith(".")]

    def _parent_path(self, trial_id: str) -> Path:
        return self.engine / WEIGHTS_FOLDER / f"{trial_id}.weights.h5"

    def _save_parent(self, trial_id: str, model: keras.Model) -> None:
        path = self._parent_path(trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(path)

    def restore_parent(self, model: keras.Model, trial_id: str) -> None:
        path = self._parent_path(trial_id)
        if path.is_file():
            model.load_weights(path)

    def load_model(self, trial_id: str) -> keras.Model:
        path = self.models / f"{trial_id}.keras"
        if not path.is_file():
            raise FileNotFoundError(
                f"no saved model for trial {trial_id} in {self.models}; "
                f"keep_top decides how many are kept."
            )
        return keras.models.load_model(path)

    def flush(self) -> None:
        records = self.records()
        table = self.table()
        atomic_write_text(self.folder / TRIALS_FILE, table.to_csv(index=False))
        atomic_write_text(self.folder / HISTORY_FILE, self._history_csv.text(records))
        atomic_write_text(
            self.folder / SUMMARY_FILE,
            summary_markdown(
                table,
                objective=self.objective.name,
                direction=self.direction,
                settings=self.settings,
            ),
        )

    def write_preprocessing(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.folder / PREPROCESSING_FILE, json.dumps(data, indent=1) + "\n")


# --------------------------------------------------------------------------- the folder


def read_records(folder: Path) -> list[TrialRecord]:
    """The records of a results folder's finished trials (none when it has no engine state)."""
    records = []
    for path in sorted((folder / ENGINE_FOLDER / RECORDS_FOLDER).glob("*.json")):
        records.append(TrialRecord(**json.loads(path.read_text(encoding="utf-8"))))
    return records


def has_engine_state(folder: Path) -> bool:
    return (folder / ENGINE_FOLDER / "oracle.json").is_file()


def saved_campaign_text(folder: Path) -> str | None:
    """The text of the folder's ``campaign.toml``, or None when it has none."""
    path = folder / CAMPAIGN_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else None


def is_campaign_folder(folder: Path) -> bool:
    """A folder this toolkit made (it holds campaign.toml), or an empty one."""
    return (folder / CAMPAIGN_FILE).is_file() or not folder.exists() or not any(folder.iterdir())


def reset(folder: Path) -> None:
    """Delete a campaign's results folder (the caller checked it is one)."""
    if folder.exists():
        shutil.rmtree(folder)


def reset_engine(folder: Path) -> None:
    """Forget the engine's state (a campaign with no finished trial, reconfigured)."""
    for path in (folder / ENGINE_FOLDER, folder / MODELS_FOLDER):
        if path.exists():
            shutil.rmtree(path)


def write_campaign(folder: Path, text: str) -> None:
    """Write ``campaign.toml`` unless it already says the same (a read-only folder of a
    finished campaign can then still be reopened)."""
    if saved_campaign_text(folder) != text:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / CAMPAIGN_FILE, text)


# --------------------------------------------------------------------------- reading


def resolve_folder(name_or_path: str | Path, results_dir: str | Path = "results") -> Path:
    """The results folder for a campaign name (under `results_dir`) or a folder path.

    A path to a file inside the folder (e.g. ``.../trials.csv``) also names its folder.
    """
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate.parent
    if candidate.is_dir():
        return candidate
    under = Path(results_dir) / str(name_or_path)
    if under.is_dir():
        return under
    root = Path(results_dir)
    if root.is_dir():
        existing = sorted(p.name for p in root.iterdir() if (p / TRIALS_FILE).is_file())
        known = (
            f"campaigns in {str(root)!r}: {existing}"
            if existing
            else f"no campaign results in {str(root)!r}"
        )
    else:
        known = f"results directory {str(root)!r} does not exist"
    raise ConfigError(
        f"results must be a folder or a campaign name under the results directory, but neither "
        f"{str(candidate)!r} nor {str(under)!r} exists ({known})."
    )


def _read_csv(folder: Path, filename: str) -> pd.DataFrame:
    path = folder / filename
    if not path.is_file():
        present = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        raise ConfigError(f"results folder {str(folder)!r} has no {filename}; it holds {present}.")
    # Only blank cells are missing: a category named "None" or "NA" stays a string.
    return pd.read_csv(path, dtype={"trial_id": str}, keep_default_na=False, na_values=[""])


def load(name_or_path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The ranked trials table (``trials.csv``) of a campaign name or results folder."""
    table = _read_csv(resolve_folder(name_or_path, results_dir), TRIALS_FILE)
    for column in ("rank", "best_epoch"):
        if column in table:
            table[column] = table[column].astype("Int64")
    return table


def load_history(name_or_path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The per-epoch history (``history.csv``) of a campaign name or results folder."""
    return _read_csv(resolve_folder(name_or_path, results_dir), HISTORY_FILE)


def load_with_history(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A results folder's ranked table and its history (None when history.csv is missing)."""
    table = load(folder)
    try:
        return table, load_history(folder)
    except ConfigError:
        return table, None


def load_campaign_settings(
    name_or_path: str | Path, results_dir: str | Path = "results"
) -> dict[str, Any]:
    """The resolved ``campaign.toml`` of a results folder, or ``{}`` when it has none."""
    path = resolve_folder(name_or_path, results_dir) / CAMPAIGN_FILE
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def write_results(
    folder: str | Path,
    records: Sequence[TrialRecord],
    *,
    objective: str,
    direction: str,
    settings: dict[str, Any],
    hyperparameter_names: Sequence[str] | None = None,
) -> None:
    """Write ``trials.csv``, ``history.csv`` and ``summary.md`` for `records` into `folder`."""
    store = DiskStore(
        folder,
        kt.Objective(objective, direction),
        hyperparameter_names=hyperparameter_names or (),
        settings=settings,
    )
    store._records = {r.trial_id: r for r in records}
    Path(folder).mkdir(parents=True, exist_ok=True)
    store.flush()
