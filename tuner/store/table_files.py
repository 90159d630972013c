"""The trials and history tables as files, read back: for `tuner results` and the report (with
the messages a user needs when one is missing or damaged), and for repairs (a record rebuilt
from its rows). Which files they are is `ResultsFolder`'s; writing them is the store's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tuner.errors import ConfigError
from tuner.results.tables import CV_FOLD, CV_STD, is_cv_column, split_columns
from tuner.trial import SCORED, TrialRecord, canonical_id

# The columns every trials.csv we write has (`device` came later: older tables lack it).
REQUIRED_COLUMNS = ("rank", "trial_id", "status", "score")


def read_table(path: Path, folder: Path) -> pd.DataFrame:
    """One table of the results folder `folder`, trial ids canonical; a `ConfigError` saying
    what the folder holds when it is missing, or how to rewrite it when it is damaged."""
    if not path.is_file():
        present = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        raise ConfigError(f"results folder {str(folder)!r} has no {path.name}; it holds {present}.")
    # Only blank cells are missing: a category named "None" or "NA" stays a string.
    try:
        return canonical_ids(
            pd.read_csv(path, dtype={"trial_id": str}, keep_default_na=False, na_values=[""])
        )
    except (ValueError, UnicodeDecodeError) as error:  # pandas' EmptyDataError and ParserError
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        raise ConfigError(
            f"{path} {reason}; `tuner results {folder} --rebuild` rewrites it from the records."
        ) from None


def read_trials_table(path: Path, folder: Path) -> pd.DataFrame:
    """The ranked trials table at `path` (`read_table`), checked to be one of ours, with its
    integer columns as integers."""
    table = read_table(path, folder)
    missing = [c for c in REQUIRED_COLUMNS if c not in table]
    if missing:
        raise ConfigError(
            f"{path} is not a table of tuner trials (it has no "
            f"{', '.join(missing)} column{'s' if len(missing) > 1 else ''}); give `tuner "
            "results` a campaign's results folder, or the name of one under --results-dir."
        )
    for column in ("rank", "best_epoch"):
        if column in table:
            table[column] = table[column].astype("Int64")
    if "device" in table:  # text, even when no record says (an empty column reads as floats)
        table["device"] = table["device"].astype(object)
    return table


def listed_trial_ids(path: Path) -> set[str]:
    """The trial ids the trials table at `path` lists (none when it cannot be read)."""
    try:
        table = pd.read_csv(path, dtype={"trial_id": str}, usecols=["trial_id"])
    except (OSError, ValueError):
        return set()
    return {canonical_id(t) for t in table["trial_id"].dropna()}


def record_from_tables(
    trials: Path, history: Path, trial_id: str, hyperparameters: dict[str, Any] | None = None
) -> TrialRecord | None:
    """A finished trial's record rebuilt from the trials table and history at those paths
    (None when the tables do not have it). `hyperparameters` are its values where known (the
    tables only hold the ``[space]`` ones)."""
    return records_from_tables(trials, history, {trial_id: hyperparameters}).get(
        canonical_id(trial_id)
    )


def records_from_tables(
    trials: Path, history: Path, wanted: Mapping[str, dict[str, Any] | None]
) -> dict[str, TrialRecord]:
    """The records of the `wanted` trials (id -> their values where known, else None) that
    the tables have, rebuilt from them, by canonical id; the tables are read once."""
    try:
        table = pd.read_csv(trials, dtype={"trial_id": str}, keep_default_na=False, na_values=[""])
        epochs_table = pd.read_csv(history, dtype={"trial_id": str})
    except (OSError, ValueError):
        return {}
    table, epochs_table = canonical_ids(table), canonical_ids(epochs_table)
    found = {}
    for trial_id, hyperparameters in wanted.items():
        record = _record_from_rows(table, epochs_table, canonical_id(trial_id), hyperparameters)
        if record is not None:
            found[record.trial_id] = record
    return found


def _record_from_rows(
    table: pd.DataFrame,
    epochs_table: pd.DataFrame,
    trial_id: str,
    hyperparameters: dict[str, Any] | None,
) -> TrialRecord | None:
    rows = table[table["trial_id"] == trial_id] if "trial_id" in table else table.iloc[:0]
    if rows.empty:
        return None
    row = rows.iloc[0]
    hp_names, _ = split_columns(table, epochs_table)
    if hyperparameters is None:
        hyperparameters = {n: _plain(row[n]) for n in hp_names if not pd.isna(row[n])}
    epochs = epochs_table[epochs_table["trial_id"] == trial_id].sort_values("epoch")
    metrics = [c for c in epochs_table.columns if c not in ("trial_id", "epoch")]
    try:
        completed = row["status"] in SCORED
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
            latency_ms=None if pd.isna(row.get("latency_ms", None)) else float(row["latency_ms"]),
            **_cv_fields(row),
        )
    except (KeyError, ValueError, TypeError):
        return None


def _cv_fields(row: pd.Series) -> dict[str, Any]:
    """A cross-validated trial's fold scores and their spread, from its row (`cv_columns`);
    nothing for another trial's."""
    folds = sorted(
        (int(str(c)[len(CV_FOLD) :]), c) for c in row.index if is_cv_column(c) and c != CV_STD
    )
    scores = [float(row[c]) for _, c in folds if not pd.isna(row[c])]
    if not scores or pd.isna(row.get(CV_STD, None)):
        return {}
    return {"cv_scores": scores, "cv_std": float(row[CV_STD])}


def canonical_ids(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with its ``trial_id`` column spelled as records spell it (older folders' tables
    have KerasTuner's padded ids)."""
    if "trial_id" in table:
        table["trial_id"] = [t if pd.isna(t) else canonical_id(t) for t in table["trial_id"]]
    return table


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
