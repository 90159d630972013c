"""Trial records -> tables: the ranked trials table and the per-epoch history. Pure functions
of the records; the store writes them to disk."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import pandas as pd

from tuner import objectives as objective_values
from tuner.direction import check_direction, loss
from tuner.errors import ConfigError
from tuner.results.pareto import PARETO, pareto_mask
from tuner.trial import FAILED, TrialRecord

FIXED_COLUMNS = [
    "rank",
    "trial_id",
    "status",
    "score",
    "best_epoch",
    "epochs_run",
    "duration_s",
    "n_params",
    "latency_ms",
    "device",
]

INTERNAL_PREFIX = "tuner/"
# A metric that shares its name with a hyperparameter (a tuned `loss`) gets this prefix.
METRIC_PREFIX = "metric_"
# Cross-validated trials (`TrialRecord.cv_scores`): the folds' standard deviation, and each
# fold's score as ``cv_fold_1`` ... ``cv_fold_K``.
CV_STD = "cv_std"
CV_FOLD = "cv_fold_"


def is_cv_column(name: Any) -> bool:
    """Whether a trials table's column is one of `cv_columns`."""
    text = str(name)
    return text == CV_STD or (text.startswith(CV_FOLD) and text[len(CV_FOLD) :].isdigit())


def cv_columns(records: Sequence[TrialRecord]) -> list[str]:
    """The cross-validation columns the records need (none when no record has folds)."""
    k = max((len(r.cv_scores) for r in records if r.cv_scores), default=0)
    return [CV_STD, *(f"{CV_FOLD}{i}" for i in range(1, k + 1))] if k else []


def _has_score(record: TrialRecord) -> bool:
    return isinstance(record.score, Real) and not math.isnan(float(record.score))


def _hyperparameter_order(records: Sequence[TrialRecord], given: Sequence[str] | None) -> list[str]:
    """Given names first (in their order), then any others first-seen; "tuner/..." ones last."""
    names: list[str] = list(dict.fromkeys(given or []))
    for record in records:
        for name in record.hyperparameters:
            if name not in names:
                names.append(name)
    public = [n for n in names if not n.startswith(INTERNAL_PREFIX)]
    internal = [n for n in names if n.startswith(INTERNAL_PREFIX)]
    return public + internal


def _metric_order(records: Sequence[TrialRecord]) -> list[str]:
    names: list[str] = []
    for record in records:
        for name in record.history:
            if name not in names:
                names.append(name)
    return names


def metric_column_names(metric_names: Sequence[str], hp_names: Sequence[str]) -> list[str]:
    """The trials table's column for each metric: its name, or ``metric_<name>`` when a
    hyperparameter has that name (a tuned ``loss`` and the logged ``loss``)."""
    taken = set(hp_names)
    return [METRIC_PREFIX + name if name in taken else name for name in metric_names]


def ranked_table(
    records: Sequence[TrialRecord],
    *,
    objective: str,
    direction: str,
    hyperparameter_names: Sequence[str] | None = None,
    objectives: Sequence[tuple[str, str]] = (),
) -> pd.DataFrame:
    """One row per trial, best first.

    Columns: ``rank, trial_id, status, score, best_epoch, epochs_run, duration_s, n_params,
    latency_ms, device`` (blank for records saved before devices were recorded), one per
    hyperparameter, the metrics at the best epoch, then ``error``. Ties keep the order in
    which the trials appear in `records`. Trials that failed or have no score come
    last with an empty rank and status ``"failed"``. `objective` is only checked for clashes.

    `objectives`, when it lists several (name, direction), adds a ``pareto`` column after
    ``score`` (True for the trials no other trial beats in every objective; never a failed
    one) and ranks those trials first, each group by the first objective (the score).
    Cross-validated records add ``cv_std, cv_fold_1, ..., cv_fold_K`` after ``score``
    (`cv_columns`).
    """
    check_direction(direction)
    hp_names = _hyperparameter_order(records, hyperparameter_names)
    metric_names = _metric_order(records)
    folds = cv_columns(records)
    reserved = set(FIXED_COLUMNS) | {"error", PARETO} | set(folds)
    clashes = sorted((set(hp_names) | set(metric_names)) & reserved)
    if clashes:
        raise ConfigError(
            "hyperparameter and metric names must not reuse the table's own columns "
            f"{sorted(reserved)}, "
            f"but got {clashes}."
        )
    metric_columns = metric_column_names(metric_names, hp_names)

    scored = [r for r in records if r.scored and _has_score(r)]
    unscored = [r for r in records if not (r.scored and _has_score(r))]
    several = len(objectives) > 1
    front: dict[int, bool] = {}
    if several:
        points = [objective_values.values(r, tuple(objectives)) for r in scored]
        mask = pareto_mask(points, [d for _, d in objectives])
        front = {id(r): on for r, on in zip(scored, mask)}
    # sorted() is stable, so equal scores keep their order of appearance.
    scored = sorted(
        scored,
        key=lambda r: (not front.get(id(r), False), loss(float(r.score), direction)),  # type: ignore[arg-type]
    )

    rows: list[dict[str, Any]] = []
    for position, record in enumerate(scored + unscored, start=1):
        ok = position <= len(scored)
        row: dict[str, Any] = {
            "rank": position if ok else pd.NA,
            "trial_id": str(record.trial_id),
            "status": record.status if ok else FAILED,  # completed, or stopped by the budget
            "score": float(record.score) if ok else float("nan"),  # type: ignore[arg-type]
            PARETO: front.get(id(record), False),
            "best_epoch": record.best_epoch if ok and record.best_epoch is not None else pd.NA,
            "epochs_run": int(record.epochs_run),
            "duration_s": float(record.duration_s),
            "n_params": int(record.n_params),
            "latency_ms": float("nan") if record.latency_ms is None else float(record.latency_ms),
            "device": record.device,
        }
        if folds:
            scores = record.cv_scores if ok and record.cv_scores else []
            row[CV_STD] = float(record.cv_std) if scores and record.cv_std is not None else None
            for i, column in enumerate(folds[1:]):
                row[column] = float(scores[i]) if i < len(scores) else None
        for name in hp_names:
            row[name] = record.hyperparameters.get(name)
        best = record.metrics_at_best_epoch() if ok else {}
        for name, column in zip(metric_names, metric_columns):
            row[column] = best.get(name, float("nan"))
        error = record.error
        if not ok and not error and record.scored:
            error = f"no score for objective {objective!r}"
        row["error"] = error
        rows.append(row)

    fixed = FIXED_COLUMNS[:4] + [PARETO] * several + folds + FIXED_COLUMNS[4:]
    columns = fixed + hp_names + metric_columns + ["error"]
    table = pd.DataFrame(rows, columns=columns)
    table["latency_ms"] = table["latency_ms"].astype(float)
    if several:
        table[PARETO] = table[PARETO].astype(bool)
    table["rank"] = table["rank"].astype("Int64")
    table["best_epoch"] = table["best_epoch"].astype("Int64")
    table["score"] = table["score"].astype(float)
    for column in folds:
        table[column] = table[column].astype(float)
    for column in metric_columns:
        table[column] = table[column].astype(float)
    for name in hp_names:
        # Whole numbers with gaps (conditional hyperparameters) stay integers, not floats.
        values = [
            r.hyperparameters[name] for r in records if r.hyperparameters.get(name) is not None
        ]
        if values and all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
            table[name] = table[name].astype("Int64")
    table["trial_id"] = table["trial_id"].astype(str)
    return table


def history_table(records: Sequence[TrialRecord]) -> pd.DataFrame:
    """One row per trial and epoch: ``trial_id, epoch`` (1-based, counted from the start of
    training), then one column per metric."""
    metric_names = _metric_order(records)
    rows: list[dict[str, Any]] = []
    for record in records:
        n_epochs = max((len(v) for v in record.history.values()), default=0)
        for index in range(n_epochs):
            row: dict[str, Any] = {
                "trial_id": str(record.trial_id),
                "epoch": record.initial_epoch + index + 1,
            }
            for name in metric_names:
                values = record.history.get(name, [])
                row[name] = float(values[index]) if index < len(values) else float("nan")
            rows.append(row)
    table = pd.DataFrame(rows, columns=["trial_id", "epoch", *metric_names])
    table["epoch"] = table["epoch"].astype(int)
    table["trial_id"] = table["trial_id"].astype(str)
    return table


class HistoryCSV:
    """The text of ``history.csv``, built incrementally: a trial's rows are formatted once, so
    rewriting the file after every trial does not cost more with every trial."""

    def __init__(self) -> None:
        self._metrics: list[str] = []
        self._chunks: dict[tuple[str, int, float], str] = {}

    def text(self, records: Sequence[TrialRecord]) -> str:
        metrics = _metric_order(records)
        if metrics != self._metrics:  # a new metric changes every row: start again
            self._metrics, self._chunks = metrics, {}
        columns = ["trial_id", "epoch", *metrics]
        missing = [r for r in records if self._key(r) not in self._chunks]
        if missing:  # formatted together: one DataFrame, then split back into trials
            lines = (
                history_table(missing)
                .reindex(columns=columns)
                .to_csv(index=False, header=False)
                .splitlines(keepends=True)
            )
            start = 0
            for record in missing:
                rows = max((len(v) for v in record.history.values()), default=0)
                self._chunks[self._key(record)] = "".join(lines[start : start + rows])
                start += rows
        return ",".join(columns) + "\n" + "".join(self._chunks[self._key(r)] for r in records)

    @staticmethod
    def _key(record: TrialRecord) -> tuple[str, int, float]:
        return (str(record.trial_id), record.epochs_run, record.duration_s)


def split_columns(
    table: pd.DataFrame, history: pd.DataFrame | None = None
) -> tuple[list[str], list[str]]:
    """(hyperparameter columns, metric columns) of a trials table.

    Metrics are the history's columns when a history is given; otherwise ``loss``, ``val_*``
    and the training twin of every ``val_*`` column.
    """
    middle = [
        c
        for c in table.columns
        if c not in FIXED_COLUMNS and c not in ("error", PARETO) and not is_cv_column(c)
    ]
    if history is not None:
        logged = set(history.columns) - {"trial_id", "epoch"}
        metric_set = logged | {METRIC_PREFIX + name for name in logged}
    else:
        val = {c for c in middle if c.startswith("val_")}
        metric_set = val | {c[len("val_") :] for c in val} | {"loss"}
    hps = [c for c in middle if c not in metric_set]
    metrics = [c for c in middle if c in metric_set]
    return hps, metrics


def is_categorical(values: pd.Series) -> bool:
    """True unless the values are numbers (booleans count as categories)."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def infer_log(values: pd.Series) -> bool:
    """A log scale suits values that are all positive and span at least a factor of 100."""
    numbers = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    return bool(len(numbers)) and bool((numbers > 0).all()) and numbers.max() / numbers.min() >= 100
