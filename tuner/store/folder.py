"""A campaign's results folder, and the only module that spells its file names.

``<results_dir>/<name>/``: ``campaign.toml`` (the resolved campaign), ``trials.csv`` (best
first), ``history.csv``, ``summary.md``, ``models/<trial_id>.keras`` (the top `keep_top`),
``preprocessing.json``, ``search_space.json``, ``tensorboard/``, ``lr_find.{csv,png,json}``,
``report.html`` and its plots; the engine's state under ``.engine/`` (KerasTuner's oracle, one
``records/<trial_id>.json`` per finished trial, Hyperband parents' ``weights/``, ``data.json``:
the fingerprint of the data the trials trained on, ``chief.json``: the distributed session,
``workers/``: local workers' logs and shared data; KerasTuner's ``oracle.json`` and
``trial_<id>/trial.json``).

`ResultsFolder` is its one owner: where each file is, what claiming it takes (checking it is a
campaign's, starting over, forgetting the engine, cleaning killed writes' leftovers; the
decision is `tuner.store.claim`'s), reading and writing records (`tuner.store.records`),
repairing them (restored from the tables; rebuilding the engine is `tuner.store.repair`'s),
and reading its tables back (`tuner.store.table_files`). The stores write through it. Light
to import: no Keras.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import ConfigError
from tuner.files import write_if_changed
from tuner.store.records import DamagedFile, read_record, trial_file, trial_files, write_record
from tuner.store.table_files import (
    listed_trial_ids,
    read_table,
    read_trials_table,
    record_from_tables,
    records_from_tables,
)
from tuner.trial import TrialRecord, canonical_id

if TYPE_CHECKING:
    import pandas as pd

TRIALS_FILE = "trials.csv"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.md"
CAMPAIGN_FILE = "campaign.toml"
PREPROCESSING_FILE = "preprocessing.json"
# The space the oracle searches (the builder's declared space with [space] applied), as
# KerasTuner's HyperParameters config: what `tuner results --rebuild` rebuilds the engine over.
SPACE_FILE = "search_space.json"
STUDY_FILE = "study.json"  # an ask-and-tell study's settings (`tuner.study`)
MODELS_FOLDER = "models"
TENSORBOARD_FOLDER = "tensorboard"
LR_FIND_CSV = "lr_find.csv"
LR_FIND_PNG = "lr_find.png"
LR_FIND_JSON = "lr_find.json"  # the finder's suggestions, so that a resumed campaign reuses them
REPORT_FILE = "report.html"
# The report's plots (`tuner.plots.campaign.save_campaign_plots`), in the report's order.
OPTIMIZATION_HISTORY_PLOT = "optimization_history.png"
HYPERPARAMETERS_PLOT = "hyperparameters.png"
PARALLEL_COORDINATES_PLOT = "parallel_coordinates.png"
LEARNING_CURVES_PLOT = "learning_curves.png"
BUDGET_PLOT = "budget.png"
PARETO_PLOT = "pareto_front.png"
TRAIN_VAL_PLOT = "train_val_gap.png"  # `tuner.plots.train_val`
ACTIVATIONS_PLOT = "activations.png"  # `tuner activations`: the best trial's
ENGINE_FOLDER = ".engine"
RECORDS_FOLDER = "records"  # under ENGINE_FOLDER
WEIGHTS_FOLDER = "weights"  # under ENGINE_FOLDER: Hyperband parents' weights
DATA_FILE = "data.json"  # under ENGINE_FOLDER: the data's fingerprint (tuner.fingerprint)
SESSION_FILE = "chief.json"  # under ENGINE_FOLDER: the distributed chief's session
WORKERS_FOLDER = "workers"  # under ENGINE_FOLDER: local workers' logs and the data they share
SHARED_DATA_FILE = "data.npz"  # under WORKERS_FOLDER
# KerasTuner's own state under ENGINE_FOLDER (its names, read by `tuner.store.engine_kt`).
ORACLE_FILE = "oracle.json"
TRIAL_FOLDER_PREFIX = "trial_"  # trial_<id>/
TRIAL_FILE = "trial.json"  # under each trial_<id>/
RECORD_SUFFIX = ".json"
MODEL_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"


class ResultsFolder:
    """The results folder at `path` (which need not exist yet)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ResultsFolder({str(self.path)!r})"

    @classmethod
    def find(cls, name_or_path: str | Path, results_dir: str | Path = "results") -> ResultsFolder:
        """The results folder for a campaign name (under `results_dir`) or a folder path.

        A path to a file inside the folder (e.g. ``.../trials.csv``) also names its folder.
        """
        candidate = Path(name_or_path)
        if candidate.is_file():
            return cls(candidate.parent)
        if candidate.is_dir():
            return cls(candidate)
        under = Path(results_dir) / str(name_or_path)
        if under.is_dir():
            return cls(under)
        root = Path(results_dir)
        if root.is_dir():
            existing = sorted(p.name for p in root.iterdir() if cls(p).trials.is_file())
            known = (
                f"campaigns in {str(root)!r}: {existing}"
                if existing
                else f"no campaign results in {str(root)!r}"
            )
        else:
            known = f"results directory {str(root)!r} does not exist"
        raise ConfigError(
            f"results must be a folder or a campaign name under the results directory, but "
            f"neither {str(candidate)!r} nor {str(under)!r} exists ({known})."
        )

    # -- where each file is -----------------------------------------------------------------
    @property
    def trials(self) -> Path:
        return self.path / TRIALS_FILE

    @property
    def history(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def campaign(self) -> Path:
        return self.path / CAMPAIGN_FILE

    @property
    def preprocessing(self) -> Path:
        return self.path / PREPROCESSING_FILE

    @property
    def search_space(self) -> Path:
        return self.path / SPACE_FILE

    @property
    def models(self) -> Path:
        return self.path / MODELS_FOLDER

    @property
    def tensorboard(self) -> Path:
        return self.path / TENSORBOARD_FOLDER

    @property
    def lr_find_csv(self) -> Path:
        return self.path / LR_FIND_CSV

    @property
    def lr_find_png(self) -> Path:
        return self.path / LR_FIND_PNG

    @property
    def lr_find_json(self) -> Path:
        return self.path / LR_FIND_JSON

    @property
    def report(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def engine(self) -> Path:
        return self.path / ENGINE_FOLDER

    @property
    def oracle_state(self) -> Path:
        """KerasTuner's ``oracle.json``."""
        return self.engine / ORACLE_FILE

    @property
    def records(self) -> Path:
        return self.engine / RECORDS_FOLDER

    @property
    def weights(self) -> Path:
        return self.engine / WEIGHTS_FOLDER

    @property
    def data_fingerprint(self) -> Path:
        return self.engine / DATA_FILE

    @property
    def session(self) -> Path:
        return self.engine / SESSION_FILE

    @property
    def workers(self) -> Path:
        return self.engine / WORKERS_FOLDER

    @property
    def shared_data(self) -> Path:
        return self.workers / SHARED_DATA_FILE

    def model_path(self, trial_id: str) -> Path:
        """Where the kept model of trial `trial_id` is (or goes)."""
        return trial_file(self.models, trial_id, MODEL_SUFFIX)

    def model_paths(self, trial_id: str) -> list[Path]:
        """The kept models of trial `trial_id`: its own, then any under an older folder's padded
        id (`tuner.store.records.trial_files`)."""
        return trial_files(self.models, trial_id, MODEL_SUFFIX)

    def new_model_path(self, trial_id: str) -> Path:
        """Where a model of trial `trial_id` (its canonical id) is saved."""
        return self.models / f"{trial_id}{MODEL_SUFFIX}"

    def temporary_model_path(self, trial_id: str) -> Path:
        """Where a model of trial `trial_id` is written before it replaces the kept one."""
        return self.models / f".{trial_id}.tmp{MODEL_SUFFIX}"

    def saved_model_ids(self) -> list[str]:
        """The ids (as spelled in the file names) of the kept models."""
        return [
            p.name.removesuffix(MODEL_SUFFIX)
            for p in self.models.glob(f"*{MODEL_SUFFIX}")
            if not p.name.startswith(".")
        ]

    def parent_weights(self, trial_id: str) -> Path:
        """Where the weights of Hyperband parent `trial_id` are (or go)."""
        return trial_file(self.weights, trial_id, WEIGHTS_SUFFIX)

    def plot(self, name: str) -> Path:
        """A plot of the report (one of the ``*_PLOT`` names)."""
        return self.path / name

    def activations_plot(self, trial_id: str | None = None, *, several: bool = False) -> Path:
        """Where `tuner activations` draws the best trial's (None), trial `trial_id`'s, or
        several trials' (`several`)."""
        if several:
            return self.path / "activations_trials.png"
        if trial_id is None:
            return self.path / ACTIVATIONS_PLOT
        return self.path / f"activations_trial_{canonical_id(trial_id)}.png"

    # -- records ----------------------------------------------------------------------------
    def record_path(self, trial_id: str) -> Path:
        """Where the record of trial `trial_id` is saved (whether or not it is yet)."""
        return trial_file(self.records, trial_id, RECORD_SUFFIX)

    def record_files(self) -> list[Path]:
        """The record files, in name order."""
        return sorted(self.records.glob(f"*{RECORD_SUFFIX}"))

    def save_record(self, record: TrialRecord) -> None:
        """Write one finished trial's record (atomically)."""
        write_record(self.record_path(record.trial_id), record)

    def read_records(self) -> list[TrialRecord]:
        """The records of the folder's finished trials (none when it has no engine state).
        A damaged record is a `ConfigError` naming it and the way out."""
        records = []
        for path in self.record_files():
            try:
                records.append(read_record(path))
            except DamagedFile as error:
                raise ConfigError(
                    f"{error}; `tuner results {self.path} --rebuild` restores it from "
                    f"{TRIALS_FILE} and {HISTORY_FILE}."
                ) from None
        return records

    # -- claiming it ------------------------------------------------------------------------
    def is_campaign_folder(self) -> bool:
        """A folder this toolkit made (it holds campaign.toml), or an empty one."""
        return self.campaign.is_file() or not self.path.exists() or not any(self.path.iterdir())

    def reset(self) -> None:
        """Delete the folder (the caller checked it is a campaign's)."""
        if self.path.exists():
            shutil.rmtree(self.path)

    def reset_engine(self) -> None:
        """Forget the engine's state (a campaign with no finished trial, reconfigured)."""
        for path in (self.engine, self.models):
            if path.exists():
                shutil.rmtree(path)

    def clean_leftovers(self) -> list[Path]:
        """Delete the temporary files that killed writes leave behind (``.NAME.*.tmp`` from the
        atomic writer, ``models/.N.tmp.keras``); return those deleted. Called when a campaign
        claims its folder, before anything runs in it."""
        removed = []
        for path in self.path.rglob(".*.tmp*"):
            if path.is_file() and (
                path.name.endswith(".tmp") or path.name.endswith(f".tmp{MODEL_SUFFIX}")
            ):
                try:
                    path.unlink()
                except OSError:
                    continue  # a read-only folder: leave them
                removed.append(path)
        return removed

    def campaign_text(self) -> str | None:
        """The text of the folder's ``campaign.toml``, or None when it has none."""
        if not self.campaign.is_file():
            return None
        try:
            return self.campaign.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                f"{self.campaign} is damaged (not UTF-8 text); restore it, or start over with "
                "--overwrite."
            ) from None

    def write_campaign(self, text: str) -> None:
        """Write ``campaign.toml`` unless it already says the same (a read-only folder of a
        finished campaign can then still be reopened)."""
        write_if_changed(self.campaign, text)

    def read_data_fingerprint(self) -> dict[str, Any] | None:
        """The fingerprint of the data the folder's trials trained on; None when none was kept
        (a new folder, or one from before fingerprints were). `DamagedFile` when unreadable."""
        path = self.data_fingerprint
        if not path.is_file():
            return None
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:  # bad JSON, or not UTF-8
            found = None
        if not isinstance(found, dict):
            raise DamagedFile(path, "is damaged")
        return found

    def write_data_fingerprint(self, fingerprint: dict[str, Any]) -> None:
        """Keep the fingerprint of the data the folder's trials train on (unless unchanged)."""
        write_if_changed(self.data_fingerprint, json.dumps(fingerprint, indent=1) + "\n")

    # -- repairing it -----------------------------------------------------------------------
    def set_aside_damaged_records(self) -> list[tuple[Path, str]]:
        """Rename every record that cannot be read back to ``N.json.damaged`` (kept for the
        user; the trial is then restored from the tables, or runs again); return (path, why)
        of each."""
        damaged = []
        for path in self.record_files():
            try:
                read_record(path)
            except DamagedFile as error:
                path.replace(path.with_name(path.name + ".damaged"))
                damaged.append((path, error.reason))
        return damaged

    def restore_record(
        self, trial_id: str, hyperparameters: dict[str, Any] | None = None
    ) -> TrialRecord | None:
        """A finished trial's record rebuilt from ``trials.csv`` and ``history.csv`` (None when
        the tables do not have it). `hyperparameters` are its values where known (the tables
        only hold the ``[space]`` ones)."""
        return record_from_tables(self.trials, self.history, trial_id, hyperparameters)

    def restore_records(self, trial_ids: Iterable[str]) -> dict[str, TrialRecord]:
        """`restore_record` for several trials, the tables read once: those the tables have,
        by canonical id."""
        return records_from_tables(self.trials, self.history, dict.fromkeys(trial_ids))

    # -- reading it back --------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """The ranked trials table (``trials.csv``)."""
        return read_trials_table(self.trials, self.path)

    def history_table(self) -> pd.DataFrame:
        """The per-epoch history (``history.csv``)."""
        return read_table(self.history, self.path)

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The ranked table and the history (None when history.csv is missing)."""
        table = self.table()
        try:
            return table, self.history_table()
        except ConfigError:
            return table, None

    def table_trial_ids(self) -> set[str]:
        """The trial ids ``trials.csv`` lists (none when it cannot be read)."""
        return listed_trial_ids(self.trials)

    def campaign_settings(self) -> dict[str, Any]:
        """The resolved ``campaign.toml``, or ``{}`` when there is none."""
        if not self.campaign.is_file():
            return {}
        with self.campaign.open("rb") as handle:
            return tomllib.load(handle)

    def saved_search_space(self) -> dict[str, Any] | None:
        """The search space the campaign's oracle was given (KerasTuner's HyperParameters
        config), or None for a folder written before it was kept."""
        if not self.search_space.is_file():
            return None
        config: dict[str, Any] = json.loads(self.search_space.read_text(encoding="utf-8"))
        return config

    def tuned_names(self, space_entries: Iterable[str]) -> list[str]:
        """The names the campaign searched, in its space's order (the tables' column order):
        from its saved search space, else its ``[space]`` entries (a folder from before it was
        kept)."""
        config = self.saved_search_space()
        if config is None:
            return list(space_entries)
        return [h["config"]["name"] for h in config["space"] if h["class_name"] != "Fixed"]

    def read_preprocessing(self) -> dict[str, Any] | None:
        """The saved preprocessing (`tuner.preprocessing.Preprocessing.to_dict`), or None."""
        if not self.preprocessing.is_file():
            return None
        data: dict[str, Any] = json.loads(self.preprocessing.read_text(encoding="utf-8"))
        return data

    # -- writing it (the stores') -----------------------------------------------------------
    def write_preprocessing(self, data: dict[str, Any]) -> None:
        write_if_changed(self.preprocessing, json.dumps(data, indent=1) + "\n")

    def write_search_space(self, config: dict[str, Any]) -> None:
        """Keep the oracle's space (a ``HyperParameters`` config; its current values, which
        change from trial to trial, are left out)."""
        space = {"space": config["space"], "values": {}}
        write_if_changed(self.search_space, json.dumps(space, indent=1) + "\n")


# --------------------------------------------------------------------------- the public readers


def resolve_folder(name_or_path: str | Path, results_dir: str | Path = "results") -> Path:
    """The results folder for a campaign name (under `results_dir`) or a folder path.

    A path to a file inside the folder (e.g. ``.../trials.csv``) also names its folder.
    """
    return ResultsFolder.find(name_or_path, results_dir).path


def load(name_or_path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The ranked trials table (``trials.csv``) of a campaign name or results folder."""
    return ResultsFolder.find(name_or_path, results_dir).table()


def load_history(name_or_path: str | Path, results_dir: str | Path = "results") -> pd.DataFrame:
    """The per-epoch history (``history.csv``) of a campaign name or results folder."""
    return ResultsFolder.find(name_or_path, results_dir).history_table()


def load_with_history(
    name_or_path: str | Path, results_dir: str | Path = "results"
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A results folder's ranked table and its history (None when history.csv is missing)."""
    return ResultsFolder.find(name_or_path, results_dir).tables()


def load_campaign_settings(
    name_or_path: str | Path, results_dir: str | Path = "results"
) -> dict[str, Any]:
    """The resolved ``campaign.toml`` of a results folder, or ``{}`` when it has none."""
    return ResultsFolder.find(name_or_path, results_dir).campaign_settings()
