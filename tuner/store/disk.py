"""The results folder on disk, and the only module that knows its file names.

``<results_dir>/<name>/``: ``campaign.toml`` (the resolved campaign), ``trials.csv`` (best
first), ``history.csv``, ``summary.md``, ``models/<trial_id>.keras`` (the top `keep_top`),
``preprocessing.json``; the engine's state under ``.engine/`` (KerasTuner's oracle, one
``records/<trial_id>.json`` per finished trial, Hyperband parents' weights, ``data.json``: the
fingerprint of the data the trials trained on).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd

from tuner.errors import ConfigError
from tuner.files import atomic_write_text, write_if_changed
from tuner.results.render import summary_markdown
from tuner.results.tables import HistoryCSV, split_columns
from tuner.store.base import Store
from tuner.trial import COMPLETED, TrialRecord, canonical_id

if TYPE_CHECKING:  # imported where used: `tuner results` reads tables without Keras
    import keras
    import keras_tuner as kt

TRIALS_FILE = "trials.csv"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.md"
CAMPAIGN_FILE = "campaign.toml"
PREPROCESSING_FILE = "preprocessing.json"
# The space the oracle searches (the builder's declared space with [space] applied), as
# KerasTuner's HyperParameters config: what `tuner results --rebuild` rebuilds the engine over.
SPACE_FILE = "search_space.json"
MODELS_FOLDER = "models"
ENGINE_FOLDER = ".engine"
RECORDS_FOLDER = "records"
WEIGHTS_FOLDER = "weights"
DATA_FILE = "data.json"  # under ENGINE_FOLDER: the data's fingerprint (tuner.fingerprint)
RECORD_SUFFIX = ".json"
MODEL_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"


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
        self.settings = dict(settings or {})
        self.prepare_for_saving = prepare_for_saving
        self.notes = list(notes)  # the summary's: what this campaign's backend does differently
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
        save_record(self.folder, record)

    def _save_model(self, trial_id: str, model: keras.Model) -> None:
        self.models.mkdir(parents=True, exist_ok=True)
        trial_id = canonical_id(trial_id)
        temporary = self.models / f".{trial_id}.tmp.keras"
        from tuner.builders.regularizers import plain_regularizers

        with plain_regularizers(model):  # loads with plain Keras, without this package
            saved = self.prepare_for_saving(model) if self.prepare_for_saving else model
            saved.save(temporary)
        temporary.replace(self.models / f"{trial_id}{MODEL_SUFFIX}")
        for older in trial_files(self.models, trial_id, MODEL_SUFFIX)[1:]:
            older.unlink(missing_ok=True)  # the same trial's, under an older folder's padded id

    def _drop_model(self, trial_id: str) -> None:
        for path in trial_files(self.models, trial_id, MODEL_SUFFIX):
            path.unlink(missing_ok=True)

    def _saved_models(self) -> list[str]:
        return [
            canonical_id(p.name.removesuffix(MODEL_SUFFIX))
            for p in self.models.glob(f"*{MODEL_SUFFIX}")
            if not p.name.startswith(".")
        ]

    def _parent_path(self, trial_id: str) -> Path:
        return trial_file(self.engine / WEIGHTS_FOLDER, trial_id, WEIGHTS_SUFFIX)

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
        path = trial_file(self.models, trial_id, MODEL_SUFFIX)
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
        write_if_changed(self.folder / TRIALS_FILE, table.to_csv(index=False))
        write_if_changed(self.folder / HISTORY_FILE, self._history_csv.text(records))
        write_if_changed(
            self.folder / SUMMARY_FILE,
            summary_markdown(
                table,
                objective=self.objective.name,
                direction=self.direction,
                settings=self.settings,
                notes=self.notes,
            ),
        )

    def write_preprocessing(self, data: dict[str, Any]) -> None:
        write_if_changed(self.folder / PREPROCESSING_FILE, json.dumps(data, indent=1) + "\n")

    def write_search_space(self, config: dict[str, Any]) -> None:
        """Keep the oracle's space (a ``HyperParameters`` config; its current values, which
        change from trial to trial, are left out)."""
        space = {"space": config["space"], "values": {}}
        write_if_changed(self.folder / SPACE_FILE, json.dumps(space, indent=1) + "\n")

    def reload(self) -> None:
        """Read the records other processes saved into the folder since (workers' trials).
        A record, once saved, does not change: only new files are read."""
        for path in sorted(records_folder(self.folder).glob("*.json")):
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


# --------------------------------------------------------------------------- the folder


def records_folder(folder: Path) -> Path:
    return folder / ENGINE_FOLDER / RECORDS_FOLDER


def record_path(folder: Path, trial_id: str) -> Path:
    """Where the record of trial `trial_id` is saved (whether or not it is yet)."""
    return trial_file(records_folder(folder), trial_id, RECORD_SUFFIX)


def trial_files(directory: Path, trial_id: str, suffix: str) -> list[Path]:
    """The files of trial `trial_id` in `directory` named ``<id><suffix>``, under whichever
    spelling of its id: folders written before ids were canonical have KerasTuner's padded
    ones ("07.json")."""
    wanted = canonical_id(trial_id)
    own = directory / f"{wanted}{suffix}"
    found = [own] if own.is_file() else []
    if directory.is_dir() and wanted.isdigit():
        for path in directory.glob(f"0*{suffix}"):
            if path != own and canonical_id(path.name.removesuffix(suffix)) == wanted:
                found.append(path)
    return found


def trial_file(directory: Path, trial_id: str, suffix: str) -> Path:
    """The file of trial `trial_id` in `directory` (`trial_files`), or where a new one goes
    (its canonical name)."""
    found = trial_files(directory, trial_id, suffix)
    return found[0] if found else directory / f"{canonical_id(trial_id)}{suffix}"


def save_record(folder: Path, record: TrialRecord) -> None:
    """Write one finished trial's record (atomically)."""
    atomic_write_text(
        record_path(folder, record.trial_id), json.dumps(asdict(record), default=float)
    )


def read_record(path: Path) -> TrialRecord:
    """One record file; `DamagedFile` when it cannot be read back."""
    try:
        return TrialRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:  # bad JSON, not UTF-8, wrong fields
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        raise DamagedFile(path, reason) from None


def read_records(folder: Path) -> list[TrialRecord]:
    """The records of a results folder's finished trials (none when it has no engine state).
    A damaged record is a `ConfigError` naming it and the way out."""
    records = []
    for path in sorted(records_folder(folder).glob("*.json")):
        try:
            records.append(read_record(path))
        except DamagedFile as error:
            raise ConfigError(
                f"{error}; `tuner results {folder} --rebuild` restores it from trials.csv "
                "and history.csv."
            ) from None
    return records


def set_aside_damaged_records(folder: Path) -> list[tuple[Path, str]]:
    """Rename every record that cannot be read back to ``N.json.damaged`` (kept for the user;
    the trial is then restored from the tables, or runs again); return (path, why) of each."""
    damaged = []
    for path in sorted(records_folder(folder).glob("*.json")):
        try:
            read_record(path)
        except DamagedFile as error:
            path.replace(path.with_name(path.name + ".damaged"))
            damaged.append((path, error.reason))
    return damaged


class DamagedFile(Exception):
    """A results-folder file that cannot be read back: `path` and why."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path} {reason}")
        self.path, self.reason = path, reason


def clean_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writes leave behind (``.NAME.*.tmp`` from the
    atomic writer, ``models/.N.tmp.keras``); return those deleted. Called when a campaign
    claims its folder, before anything runs in it."""
    removed = []
    for path in folder.rglob(".*.tmp*"):
        if path.is_file() and (path.name.endswith(".tmp") or path.name.endswith(".tmp.keras")):
            try:
                path.unlink()
            except OSError:
                continue  # a read-only folder: leave them
            removed.append(path)
    return removed


def restore_record(
    folder: Path, trial_id: str, hyperparameters: dict[str, Any] | None = None
) -> TrialRecord | None:
    """A finished trial's record rebuilt from ``trials.csv`` and ``history.csv`` (None when the
    tables do not have it). `hyperparameters` are its values where known (the tables only hold
    the ``[space]`` ones)."""
    try:
        table = pd.read_csv(
            folder / TRIALS_FILE, dtype={"trial_id": str}, keep_default_na=False, na_values=[""]
        )
        history = pd.read_csv(folder / HISTORY_FILE, dtype={"trial_id": str})
    except (OSError, ValueError):
        return None
    trial_id = canonical_id(trial_id)
    table, history = _canonical_ids(table), _canonical_ids(history)
    rows = table[table["trial_id"] == trial_id] if "trial_id" in table else table.iloc[:0]
    if rows.empty:
        return None
    row = rows.iloc[0]
    hp_names, _ = split_columns(table, history)
    if hyperparameters is None:
        hyperparameters = {n: _plain(row[n]) for n in hp_names if not pd.isna(row[n])}
    epochs = history[history["trial_id"] == trial_id].sort_values("epoch")
    metrics = [c for c in history.columns if c not in ("trial_id", "epoch")]
    try:
        completed = row["status"] == COMPLETED
        return TrialRecord(
            trial_id=trial_id,
            status=str(row["status"]),
            hyperparameters=hyperparameters,
            history={m: [float(v) for v in epochs[m]] for m in metrics if epochs[m].notna().all()},
            score=float(row["score"]) if completed else None,
            best_epoch=int(row["best_epoch"]) if completed else None,
            epochs_run=int(row["epochs_run"]),
            duration_s=float(row["duration_s"]),
            n_params=int(row["n_params"]),
            error=None if pd.isna(row.get("error", None)) else str(row["error"]),
            initial_epoch=int(epochs["epoch"].min()) - 1 if len(epochs) else 0,
            device=None if pd.isna(row.get("device", None)) else str(row["device"]),
        )
    except (KeyError, ValueError, TypeError):
        return None


def _canonical_ids(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with its ``trial_id`` column spelled as records spell it (older folders' tables
    have KerasTuner's padded ids)."""
    if "trial_id" in table:
        table["trial_id"] = [t if pd.isna(t) else canonical_id(t) for t in table["trial_id"]]
    return table


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class Repaired(UserWarning):
    """A damaged or missing piece of a results folder was repaired (the message says what)."""


def table_trial_ids(folder: Path) -> set[str]:
    """The trial ids ``trials.csv`` lists (none when it cannot be read)."""
    try:
        table = pd.read_csv(folder / TRIALS_FILE, dtype={"trial_id": str}, usecols=["trial_id"])
    except (OSError, ValueError):
        return set()
    return {canonical_id(t) for t in table["trial_id"].dropna()}


def saved_search_space(folder: Path) -> dict[str, Any] | None:
    """The search space a campaign's oracle was given (KerasTuner's HyperParameters config),
    or None for a folder written before it was kept."""
    path = folder / SPACE_FILE
    if not path.is_file():
        return None
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def tuned_names(folder: Path, space_entries: Iterable[str]) -> list[str]:
    """The names a campaign searched, in its space's order (the tables' column order): from
    its saved search space, else its ``[space]`` entries (a folder from before it was kept)."""
    config = saved_search_space(folder)
    if config is None:
        return list(space_entries)
    return [h["config"]["name"] for h in config["space"] if h["class_name"] != "Fixed"]


def saved_campaign_text(folder: Path) -> str | None:
    """The text of the folder's ``campaign.toml``, or None when it has none."""
    path = folder / CAMPAIGN_FILE
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is damaged (not UTF-8 text); restore it, or start over with --overwrite."
        ) from None


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


def data_fingerprint_path(folder: Path) -> Path:
    return folder / ENGINE_FOLDER / DATA_FILE


def read_data_fingerprint(folder: Path) -> dict[str, Any] | None:
    """The fingerprint of the data the folder's trials trained on; None when none was kept
    (a new folder, or one from before fingerprints were). `DamagedFile` when unreadable."""
    path = data_fingerprint_path(folder)
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # bad JSON, or not UTF-8
        found = None
    if not isinstance(found, dict):
        raise DamagedFile(path, "is damaged")
    return found


def write_data_fingerprint(folder: Path, fingerprint: dict[str, Any]) -> None:
    """Keep the fingerprint of the data the folder's trials train on (unless unchanged)."""
    write_if_changed(data_fingerprint_path(folder), json.dumps(fingerprint, indent=1) + "\n")


def write_campaign(folder: Path, text: str) -> None:
    """Write ``campaign.toml`` unless it already says the same (a read-only folder of a
    finished campaign can then still be reopened)."""
    write_if_changed(folder / CAMPAIGN_FILE, text)


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
    try:
        return _canonical_ids(
            pd.read_csv(path, dtype={"trial_id": str}, keep_default_na=False, na_values=[""])
        )
    except (ValueError, UnicodeDecodeError) as error:  # pandas' EmptyDataError and ParserError
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        raise ConfigError(
            f"{path} {reason}; `tuner results {folder} --rebuild` rewrites it from the records."
        ) from None


# The columns every trials.csv we write has (`device` came later: older tables lack it).
REQUIRED_COLUMNS = ("rank", "trial_id", "status", "score")


def load(name_or_path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The ranked trials table (``trials.csv``) of a campaign name or results folder."""
    folder = resolve_folder(name_or_path, results_dir)
    table = _read_csv(folder, TRIALS_FILE)
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        raise ConfigError(
            f"{folder / TRIALS_FILE} is not a table of tuner trials (it has no "
            f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}); give `tuner "
            "results` a campaign's results folder, or the name of one under --results-dir."
        )
    for column in ("rank", "best_epoch"):
        if column in table:
            table[column] = table[column].astype("Int64")
    if "device" in table:  # text, even when no record says (an empty column reads as floats)
        table["device"] = table["device"].astype(object)
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
