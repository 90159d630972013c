"""Tables as text: cells, Markdown, the CLI's formats, the settings table and summary.md."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import pandas as pd

from tuner.errors import ConfigError
from tuner.results.pareto import PARETO, pareto_front
from tuner.trial import PRUNED, SCORED, STOPPED

FORMATS = ("table", "csv", "markdown", "json")


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


def _is_float(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, Integral))


def number_format(values: Iterable[Any], digits: int = 3) -> str | None:
    """The one format for a column of numbers that needs scientific notation, so that its
    values never mix ``1.0e-03``, ``0.01`` and ``1``: ``.{digits - 1}e`` when the column holds a
    float and a nonzero value below 0.01 or from 1e5 on, or values 3 decades or more apart;
    None when plain decimals suit every value (columns of whole numbers always)."""
    numbers = [v for v in values if isinstance(v, Real) and not isinstance(v, bool)]
    if not any(_is_float(v) for v in numbers):
        return None
    sizes = [abs(float(v)) for v in numbers if math.isfinite(float(v)) and float(v) != 0]
    if not sizes:
        return None
    low, high = min(sizes), max(sizes)
    if low < 1e-2 or high >= 1e5 or high / low >= 1e3:
        return f".{digits - 1}e"
    return None


def column_cells(values: Sequence[Any], max_width: int | None = None) -> list[str]:
    """The cells of one column (`format_cell`), in scientific notation throughout when
    `number_format` says the column needs it."""
    spec = number_format(values, digits=4)
    if spec is None:
        return [format_cell(v, max_width) for v in values]
    return [
        format(float(v), spec)
        if isinstance(v, Real) and not isinstance(v, bool) and not math.isnan(float(v))
        else format_cell(v, max_width)
        for v in values
    ]


def is_numeric(series: pd.Series) -> bool:
    """Whether a column holds numbers (booleans are not): those are right-aligned."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def aligned_lines(
    headers: Sequence[str], columns: Sequence[Sequence[str]], right: Sequence[bool], sep: str
) -> list[str]:
    """Fixed-width text, the one terminal table layout: the header line, then one line per row.
    Each column is as wide as its header or widest cell, right-aligned where `right` says,
    columns joined by `sep`; trailing spaces are kept (callers strip or clip)."""
    widths = [max([len(h), *map(len, cells)]) for h, cells in zip(headers, columns)]

    def line(texts: Sequence[str]) -> str:
        return sep.join(t.rjust(w) if r else t.ljust(w) for t, w, r in zip(texts, widths, right))

    return [line(headers), *(line(texts) for texts in zip(*columns))]


def to_markdown(df: pd.DataFrame, *, max_width: int | None = None) -> str:
    """A GitHub-flavoured Markdown table; floats to 4 significant digits, missing as blank.

    Numeric columns are right-aligned. Cells longer than `max_width` are cut with an ellipsis.
    """

    def escape(text: str) -> str:
        return text.replace("|", "\\|")

    header = [escape(str(c)) for c in df.columns]
    align = ["---:" if is_numeric(df[c]) else "---" for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    columns = [column_cells(list(df.iloc[:, i]), max_width) for i in range(df.shape[1])]
    for row in zip(*columns, strict=True) if columns else ():
        lines.append("| " + " | ".join(escape(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def format_table(df: pd.DataFrame, fmt: str) -> str:
    """Render `df` as ``table`` (fixed-width text), ``csv``, ``markdown`` or ``json`` (records)."""
    if fmt == "table":
        if df.empty:  # pandas' own note, "Empty DataFrame" and the columns
            return df.to_string(index=False) + "\n"
        columns = [column_cells(list(df[c])) for c in df.columns]
        lines = aligned_lines([str(c) for c in df.columns], columns, [True] * len(columns), " ")
        return "\n".join(lines) + "\n"
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "markdown":
        return to_markdown(df)
    if fmt == "json":
        # Round-trip through json to drop pandas' escaping of "/" in "tuner/..." names.
        return json.dumps(json.loads(df.to_json(orient="records")), indent=1) + "\n"
    raise ConfigError(f"format must be one of {FORMATS}, but got {fmt!r}.")


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
            rows.append(
                {"setting": key if sub is None else f"{key}.{sub}", "value": _setting_text(item)}
            )
    return pd.DataFrame(rows, columns=["setting", "value"])


def device_line(table: pd.DataFrame) -> str | None:
    """The summary's line about where the trials ran: ``- device: CPU`` when they all ran on
    one device, else ``- devices: GPU:0 (...) 12 trials, GPU:1 (...) 11 trials`` (most first;
    records saved before devices were recorded count as "not recorded"). None when no record
    says."""
    if "device" not in table or table["device"].isna().all():
        return None
    counts = table["device"].fillna("not recorded").value_counts(sort=False)
    if len(counts) == 1:
        return f"- device: {counts.index[0]}"
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return "- devices: " + ", ".join(
        f"{name} {count} trial{'s' if count != 1 else ''}" for name, count in ordered
    )


def pruned_epochs_saved(table: pd.DataFrame) -> int | None:
    """The epochs pruning spared: each pruned trial's ``epochs`` less its ``epochs_run``
    (None when no trial was pruned, or the table does not say how long trials train)."""
    pruned = table[table["status"] == PRUNED]
    if not len(pruned) or "epochs" not in pruned:
        return None
    planned = pd.to_numeric(pruned["epochs"], errors="coerce")
    return int((planned - pruned["epochs_run"]).clip(lower=0).sum())


def summary_markdown(
    table: pd.DataFrame,
    *,
    objective: str,
    direction: str,
    settings: dict[str, Any],
    top: int = 10,
    notes: Sequence[str] = (),
) -> str:
    """The text of ``summary.md``: trial counts, best score, where the trials ran
    (`device_line`), `notes` (one line each, such as a feature that fell back on this Keras
    backend), settings, the top trials."""
    name = settings.get("name", "campaign")
    completed = int((table["status"].isin(SCORED)).sum())
    stopped = int((table["status"] == STOPPED).sum())
    pruned = int((table["status"] == PRUNED).sum())
    failed = len(table) - completed
    cut = f", {stopped} stopped by the budget" if stopped else ""
    cut += f", {pruned} pruned" if pruned else ""
    lines = [f"# Results: {name}", ""]
    several = settings.get("objective")
    if isinstance(several, list) and isinstance(settings.get("direction"), list):
        spelled = ", ".join(f"`{n}` ({d})" for n, d in zip(several, settings["direction"]))
        lines.append(f"- objectives: {spelled}; score is `{objective}`")
    else:
        lines.append(f"- objective: `{objective}` ({direction})")
    lines.append(
        f"- trials: {len(table)} ({completed - stopped - pruned} completed{cut}, {failed} failed)"
    )
    saved = pruned_epochs_saved(table)
    if saved is not None:
        lines.append(
            f"- pruning: {pruned} trials stopped early, {saved} of "
            f"{saved + int(table['epochs_run'].sum())} epochs saved"
        )
    if completed:
        best = table.iloc[0]
        lines.append(
            f"- best score: {format_cell(best['score'])} "
            f"(trial {best['trial_id']}, epoch {best['best_epoch']})"
        )
    else:
        lines.append("- best score: none (no trial completed)")
    devices = device_line(table)
    if devices:
        lines.append(devices)
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    lines += ["", "## Settings", ""]
    lines.append(to_markdown(settings_table(settings)))
    lines += [f"## Top {min(top, len(table))} trials", ""]
    shown = table.head(top)
    if not shown["error"].notna().any():
        shown = shown.drop(columns="error")
    if "device" in shown and table["device"].nunique(dropna=False) <= 1:  # the line above says it
        shown = shown.drop(columns="device")
    lines.append(to_markdown(shown, max_width=60))
    if PARETO in table.columns:
        front = pareto_front(table)
        lines += ["", f"## Pareto front ({len(front)} trials)", ""]
        if len(front):
            lines.append(to_markdown(_without_blank_columns(front), max_width=60))
        else:
            lines.append("no trial completed")
    return "\n".join(lines)


def _without_blank_columns(table: pd.DataFrame) -> pd.DataFrame:
    """`table` without its error column when no row has one, and without a device column that
    says one thing."""
    if "error" in table and not table["error"].notna().any():
        table = table.drop(columns="error")
    if "device" in table and table["device"].nunique(dropna=False) <= 1:
        table = table.drop(columns="device")
    return table
