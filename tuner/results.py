"""Trial records -> ranked tables; read and write the results folder; compare campaigns.

The results folder contract (see DESIGN.md): ``trials.csv`` (best first), ``history.csv``
(one row per trial and epoch) and ``summary.md``, each replaced atomically after every trial.
"""
from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import pandas as pd

from tuner.errors import ConfigError
from tuner.files import atomic_write_text
from tuner.trial import COMPLETED, FAILED, TrialRecord

FIXED_COLUMNS = ["rank", "trial_id", "status", "score", "best_epoch", "epochs_run", "duration_s", "n_params"]
TRIALS_FILE = "trials.csv"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.md"
CAMPAIGN_FILE = "campaign.toml"
INTERNAL_PREFIX = "tuner/"
FORMATS = ("table", "csv", "markdown", "json")
DIRECTIONS = ("max", "min")


# --------------------------------------------------------------------------- tables


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {DIRECTIONS}, but got {direction!r}.")


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


def ranked_table(
    records: Sequence[TrialRecord],
    *,
    objective: str,
    direction: str,
    hyperparameter_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per trial, best first.

    Columns: ``rank, trial_id, status, score, best_epoch, epochs_run, duration_s, n_params``,
    one per hyperparameter, the metrics at the best epoch, then ``error``. Ties keep the
    order in which the trials appear in `records`. Trials that failed or have no score come
    last with an empty rank and status ``"failed"``. `objective` is only checked for clashes.
    """
    _check_direction(direction)
    hp_names = _hyperparameter_order(records, hyperparameter_names)
    metric_names = _metric_order(records)
    reserved = set(FIXED_COLUMNS) | {"error"}
    clashes = sorted((set(hp_names) | set(metric_names)) & reserved)
    if clashes:
        raise ConfigError(
            f"hyperparameter and metric names must not reuse the table's own columns {sorted(reserved)}, "
            f"but got {clashes}."
        )
    clashes = sorted(set(hp_names) & set(metric_names))
    if clashes:
        raise ConfigError(f"a name cannot be both a hyperparameter and a metric, but got {clashes}.")

    scored = [r for r in records if r.status == COMPLETED and _has_score(r)]
    unscored = [r for r in records if not (r.status == COMPLETED and _has_score(r))]
    # sorted() is stable, so equal scores keep their order of appearance.
    sign = -1.0 if direction == "max" else 1.0
    scored = sorted(scored, key=lambda r: sign * float(r.score))  # type: ignore[arg-type]

    rows: list[dict[str, Any]] = []
    for position, record in enumerate(scored + unscored, start=1):
        ok = position <= len(scored)
        row: dict[str, Any] = {
            "rank": position if ok else pd.NA,
            "trial_id": str(record.trial_id),
            "status": COMPLETED if ok else FAILED,
            "score": float(record.score) if ok else float("nan"),  # type: ignore[arg-type]
            "best_epoch": record.best_epoch if ok and record.best_epoch is not None else pd.NA,
            "epochs_run": int(record.epochs_run),
            "duration_s": float(record.duration_s),
            "n_params": int(record.n_params),
        }
        for name in hp_names:
            row[name] = record.hyperparameters.get(name)
        best = record.metrics_at_best_epoch() if ok else {}
        for name in metric_names:
            row[name] = best.get(name, float("nan"))
        error = record.error
        if not ok and not error and record.status == COMPLETED:
            error = f"no score for objective {objective!r}"
        row["error"] = error
        rows.append(row)

    columns = FIXED_COLUMNS + hp_names + metric_names + ["error"]
    table = pd.DataFrame(rows, columns=columns)
    table["rank"] = table["rank"].astype("Int64")
    table["best_epoch"] = table["best_epoch"].astype("Int64")
    table["score"] = table["score"].astype(float)
    for name in metric_names:
        table[name] = table[name].astype(float)
    for name in hp_names:
        # Whole numbers with gaps (conditional hyperparameters) stay integers, not floats.
        values = [r.hyperparameters[name] for r in records if r.hyperparameters.get(name) is not None]
        if values and all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
            table[name] = table[name].astype("Int64")
    table["trial_id"] = table["trial_id"].astype(str)
    return table


def history_table(records: Sequence[TrialRecord]) -> pd.DataFrame:
    """One row per trial and epoch: ``trial_id, epoch`` (1-based), then one column per metric."""
    metric_names = _metric_order(records)
    rows: list[dict[str, Any]] = []
    for record in records:
        n_epochs = max((len(v) for v in record.history.values()), default=0)
        for index in range(n_epochs):
            row: dict[str, Any] = {"trial_id": str(record.trial_id), "epoch": index + 1}
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
            lines = history_table(missing).reindex(columns=columns).to_csv(
                index=False, header=False).splitlines(keepends=True)
            start = 0
            for record in missing:
                rows = max((len(v) for v in record.history.values()), default=0)
                self._chunks[self._key(record)] = "".join(lines[start:start + rows])
                start += rows
        return ",".join(columns) + "\n" + "".join(self._chunks[self._key(r)] for r in records)

    @staticmethod
    def _key(record: TrialRecord) -> tuple[str, int, float]:
        return (str(record.trial_id), record.epochs_run, record.duration_s)


# --------------------------------------------------------------------------- formatting


def format_cell(value: Any, max_width: int | None = None) -> str:
    """One cell as text: floats to 4 significant digits, missing as "", whitespace collapsed."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        text = str(value)
    elif isinstance(value, Integral):
        text = str(int(value))
    elif isinstance(value, Real):
        text = f"{float(value):.4g}"
    else:
        text = " ".join(str(value).split())
    if max_width is not None and len(text) > max_width:
        text = text[: max_width - 1] + "…"
    return text


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def to_markdown(df: pd.DataFrame, *, max_width: int | None = None) -> str:
    """A GitHub-flavoured Markdown table; floats to 4 significant digits, missing as blank.

    Numeric columns are right-aligned. Cells longer than `max_width` are cut with an ellipsis.
    """
    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    header = [escape(str(c)) for c in df.columns]
    align = ["---:" if _is_numeric(df[c]) else "---" for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for row in df.itertuples(index=False, name=None):
        cells = [escape(format_cell(v, max_width)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_table(df: pd.DataFrame, fmt: str) -> str:
    """Render `df` as ``table`` (fixed-width text), ``csv``, ``markdown`` or ``json`` (records)."""
    if fmt == "table":
        text = pd.DataFrame(
            {c: [format_cell(v) for v in df[c]] for c in df.columns}, columns=df.columns
        ).to_string(index=False)
        return text + "\n"
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(df)
    if fmt == "json":
        # Round-trip through json to drop pandas' escaping of "/" in "tuner/..." names.
        return json.dumps(json.loads(df.to_json(orient="records")), indent=1) + "\n"
    raise ConfigError(f"format must be one of {FORMATS}, but got {fmt!r}.")


# --------------------------------------------------------------------------- writing


def _setting_text(value: Any, nested: bool = False) -> str:
    if isinstance(value, dict):
        text = ", ".join(f"{k}={_setting_text(v, True)}" for k, v in value.items())
        return "{" + text + "}" if nested else text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_setting_text(v, True) for v in value) + "]"
    return format_cell(value) if isinstance(value, Real) else str(value)


def settings_table(settings: dict[str, Any]) -> pd.DataFrame:
    """Campaign settings as ``setting, value`` rows; tables such as [space] get a row per entry."""
    rows = []
    for key, value in settings.items():
        entries = value.items() if isinstance(value, dict) and value else [(None, value)]
        for sub, item in entries:
            rows.append({"setting": key if sub is None else f"{key}.{sub}", "value": _setting_text(item)})
    return pd.DataFrame(rows, columns=["setting", "value"])


def summary_markdown(
    table: pd.DataFrame, *, objective: str, direction: str, settings: dict[str, Any], top: int = 10
) -> str:
    """The text of ``summary.md``: settings, trial counts, best score, the top trials."""
    name = settings.get("name", "campaign")
    completed = int((table["status"] == COMPLETED).sum())
    failed = len(table) - completed
    lines = [f"# Results: {name}", ""]
    lines.append(f"- objective: `{objective}` ({direction})")
    lines.append(f"- trials: {len(table)} ({completed} completed, {failed} failed)")
    if completed:
        best = table.iloc[0]
        lines.append(f"- best score: {format_cell(best['score'])} (trial {best['trial_id']}, epoch {best['best_epoch']})")
    else:
        lines.append("- best score: none (no trial completed)")
    lines += ["", "## Settings", ""]
    lines.append(to_markdown(settings_table(settings)))
    lines += [f"## Top {min(top, len(table))} trials", ""]
    shown = table.head(top)
    if not shown["error"].notna().any():
        shown = shown.drop(columns="error")
    lines.append(to_markdown(shown, max_width=60))
    return "\n".join(lines)


def write_results(
    folder: str | Path,
    records: Sequence[TrialRecord],
    *,
    objective: str,
    direction: str,
    settings: dict[str, Any],
    hyperparameter_names: Sequence[str] | None = None,
    top: int = 10,
    history_csv: HistoryCSV | None = None,
) -> None:
    """Write ``trials.csv``, ``history.csv`` and ``summary.md`` into `folder`, each atomically.

    Cheap enough to call after every trial (pass the same `history_csv` each time); it does
    not draw plots or write ``campaign.toml``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = ranked_table(records, objective=objective, direction=direction, hyperparameter_names=hyperparameter_names)
    history = (history_csv or HistoryCSV()).text(records)
    atomic_write_text(folder / TRIALS_FILE, table.to_csv(index=False))
    atomic_write_text(folder / HISTORY_FILE, history)
    atomic_write_text(
        folder / SUMMARY_FILE,
        summary_markdown(table, objective=objective, direction=direction, settings=settings, top=top),
    )


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
        known = f"campaigns in {str(root)!r}: {existing}" if existing else f"no campaign results in {str(root)!r}"
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


def load_campaign_settings(name_or_path: str | Path, results_dir: str | Path = "results") -> dict[str, Any]:
    """The resolved ``campaign.toml`` of a results folder, or ``{}`` when it has none."""
    path = resolve_folder(name_or_path, results_dir) / CAMPAIGN_FILE
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def split_columns(table: pd.DataFrame, history: pd.DataFrame | None = None) -> tuple[list[str], list[str]]:
    """(hyperparameter columns, metric columns) of a trials table.

    Metrics are the history's columns when a history is given; otherwise ``loss``, ``val_*``
    and the training twin of every ``val_*`` column.
    """
    middle = [c for c in table.columns if c not in FIXED_COLUMNS and c != "error"]
    if history is not None:
        metric_set = set(history.columns) - {"trial_id", "epoch"}
    else:
        val = {c for c in middle if c.startswith("val_")}
        metric_set = val | {c[len("val_"):] for c in val} | {"loss"}
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


def compare(names_or_paths: Iterable[str | Path], results_dir: str | Path = "results") -> pd.DataFrame:
    """The best trial of each campaign side by side, one row per campaign.

    Columns: ``campaign, n_trials, n_completed, objective, direction, best_score,
    best_trial_id``, then the best trial's hyperparameters (internal ``tuner/`` ones left out).
    """
    rows: list[dict[str, Any]] = []
    hp_order: list[str] = []
    for item in names_or_paths:
        folder = resolve_folder(item, results_dir)
        table, history = load_with_history(folder)
        settings = load_campaign_settings(folder)
        hps, _ = split_columns(table, history)
        hps = [h for h in hps if not h.startswith(INTERNAL_PREFIX)]
        completed = table[table["status"] == COMPLETED]
        row: dict[str, Any] = {
            "campaign": str(settings.get("name", folder.name)),
            "n_trials": len(table),
            "n_completed": len(completed),
            "objective": settings.get("objective"),
            "direction": settings.get("direction"),
            "best_score": completed["score"].iloc[0] if len(completed) else float("nan"),
            "best_trial_id": completed["trial_id"].iloc[0] if len(completed) else None,
        }
        for name in hps:
            if name not in hp_order:
                hp_order.append(name)
            row[name] = completed[name].iloc[0] if len(completed) else None
        rows.append(row)
    columns = ["campaign", "n_trials", "n_completed", "objective", "direction", "best_score", "best_trial_id", *hp_order]
    return pd.DataFrame(rows, columns=columns)


__all__ = [
    "ranked_table",
    "history_table",
    "write_results",
    "summary_markdown",
    "settings_table",
    "load",
    "load_history",
    "load_campaign_settings",
    "resolve_folder",
    "split_columns",
    "is_categorical",
    "infer_log",
    "compare",
    "to_markdown",
    "format_table",
    "format_cell",
    "atomic_write_text",
    "load_with_history",
]
