"""Campaign plots: compute an info object from a results table, then draw it on matplotlib Axes.

Every drawing function takes a ranked trials table (as written to ``trials.csv``) and an
optional Axes; without one it makes a new `matplotlib.figure.Figure` (never pyplot's global
state) and returns the Axes it drew on. Nothing here reads a file: `save_all` takes a
`CampaignView` and only writes the PNGs.

Trials are placed by their id as a number (trial "6" at x = 6), the numbering of the table.
Failed and diverged trials are drawn as crosses along the bottom edge, at the values tried.
A hyperparameter's axis spans what the campaign's ``[space]`` searched when it says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullLocator

from tuner.direction import check_direction, gain
from tuner.errors import ConfigError
from tuner.plots.view import CampaignView, score_label
from tuner.results import INTERNAL_PREFIX, infer_log, is_categorical, split_columns
from tuner.store.folder import (
    BUDGET_PLOT,
    HYPERPARAMETERS_PLOT,
    LEARNING_CURVES_PLOT,
    OPTIMIZATION_HISTORY_PLOT,
    PARALLEL_COORDINATES_PLOT,
    PARETO_PLOT,
)
from tuner.trial import PRUNED, SCORED

DPI = 110
BRACKET_KEY = "tuner/bracket"
ROUND_KEY = "tuner/round"
SCORE_COLOR = "tab:blue"
BEST_COLOR = "tab:red"
# Legend label -> (marker, colour) of trials without a score, drawn along the bottom edge.
FAILURE_STYLE = {"diverged": ("x", "tab:red"), "failed": ("x", "0.25")}
FAILURE_Y = 0.03  # in axes coordinates: just above the bottom edge whatever the score range
LOG_SAMPLINGS = ("log", "reverse_log")


# --------------------------------------------------------------------------- data


def completed(table: pd.DataFrame) -> pd.DataFrame:
    """Scored trials (completed, or stopped by the budget), best first (the table's own
    order)."""
    mask = (table["status"].isin(SCORED)) & table["score"].notna()
    return table[mask]


def failure_kinds(table: pd.DataFrame) -> pd.Series:
    """Per row: ``""`` for a completed trial with a score, else ``"diverged"`` (its error
    starts with ``diverged:``) or ``"failed"``."""
    ok = (table["status"].isin(SCORED)) & table["score"].notna()
    errors = table["error"] if "error" in table else pd.Series(pd.NA, index=table.index)
    diverged = errors.astype("string").str.startswith("diverged:").fillna(False).astype(bool)
    return pd.Series(np.where(ok, "", np.where(diverged, "diverged", "failed")), index=table.index)


def _natural_key(trial_id: Any) -> list[tuple[int, Any]]:
    parts = re.split(r"(\d+)", str(trial_id))
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts if p != ""]


def in_trial_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order the trials ran, recovered from their ids ("2" before "10")."""
    order = sorted(range(len(table)), key=lambda i: _natural_key(table["trial_id"].iloc[i]))
    return table.iloc[order]


def trial_numbers(table: pd.DataFrame) -> np.ndarray:
    """Each row's trial id as a number, the x of every per-trial plot ("6" -> 6, "003" -> 3).

    When some id is not a whole number, every row gets its 1-based position in the order run.
    """
    ids = table["trial_id"].astype(str)
    if ids.str.fullmatch(r"\d+").all():
        return ids.astype(int).to_numpy(dtype=float)
    order = sorted(range(len(ids)), key=lambda i: _natural_key(ids.iloc[i]))
    numbers = np.empty(len(ids))
    numbers[order] = np.arange(1, len(ids) + 1)
    return numbers


def best_so_far(scores: Sequence[float], direction: str) -> np.ndarray:
    """The running best of `scores` (NaN ignored) for ``direction`` "max" or "min"."""
    gains = gain(np.asarray(scores, dtype=float), direction)
    running = np.maximum.accumulate(np.where(np.isnan(gains), -np.inf, gains))
    return np.where(np.isinf(running), np.nan, gain(running, direction))


def _label(value: Any) -> str:
    """A category's text, the same for a choice in ``[space]`` and the value read from a csv
    (32 == 32.0)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _category_labels(values: pd.Series) -> list[str]:
    uniques = list(dict.fromkeys(_label(v) for v in values.dropna()))
    try:  # numeric-looking categories read best in numeric order
        return sorted(uniques, key=float)
    except ValueError:
        return sorted(uniques)


@dataclass(frozen=True)
class AxisInfo:
    """How one hyperparameter's values map onto an axis.

    `categories` lists every category in axis order (None for a numeric axis, which spans
    `low`..`high`, log-scaled when `log`). `searched` is True when the span comes from the
    campaign's ``[space]`` rather than from the values seen. `ticks` are the values a numeric
    choice offers (and any tried outside it), labelled where they lie on the numeric axis.
    """

    name: str
    categories: list[str] | None
    low: float
    high: float
    log: bool = False
    integer: bool = False
    searched: bool = False
    ticks: tuple[float, ...] | None = None

    @property
    def tick_labels(self) -> list[str]:
        return [_label(t) for t in self.ticks or ()]

    def positions(self, values: Sequence[Any] | pd.Series) -> np.ndarray:
        """Data coordinates of `values` (a category's index for categories); NaN where missing."""
        if self.categories is not None:
            index = {label: i for i, label in enumerate(self.categories)}
            return np.array(
                [index.get(_label(v), np.nan) if pd.notna(v) else np.nan for v in values],
                dtype=float,
            )
        return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(
            dtype=float
        )

    def unit(self, values: Sequence[Any] | pd.Series) -> np.ndarray:
        """`values` mapped into [0, 1] across this axis (categories evenly spaced)."""
        x = self.positions(values)
        low, high = self.low, self.high
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                x, low, high = np.log10(x), np.log10(low), np.log10(high)
        if high > low:
            return (x - low) / (high - low)
        return np.where(np.isnan(x), np.nan, 0.5)

    def limits(self, margin: float = 0.04) -> tuple[float, float]:
        """Axis limits: the span and a small margin (half a slot either side for categories)."""
        if self.categories is not None:
            return -0.6, len(self.categories) - 0.4
        if self.log:
            low, high = np.log10(self.low), np.log10(self.high)
            pad = (high - low) * margin if high > low else 0.5
            return float(10 ** (low - pad)), float(10 ** (high + pad))
        pad = (
            (self.high - self.low) * margin
            if self.high > self.low
            else max(abs(self.low) * 0.1, 0.5)
        )
        return self.low - pad, self.high + pad


def axis_info(
    name: str, values: pd.Series, entry: Any = None, *, log: bool | None = None
) -> AxisInfo:
    """The axis of hyperparameter `name`, given the values tried and its ``[space]`` entry.

    A range table spans its min..max (log when its sampling is log or reverse_log); a list, or
    a table with ``values``, is a choice whose every option is a category, tried or not;
    anything else (a fixed value, no entry) spans the values seen. Values tried outside the
    space (it was edited since) widen the axis rather than vanish. `log` overrides the scale
    of a numeric axis.
    """
    seen = values.dropna()
    choices = entry.get("values") if isinstance(entry, Mapping) else entry
    if isinstance(choices, list) and choices and all(_is_number(c) for c in choices):
        return _numeric_choice_axis(name, choices, seen, log)
    if isinstance(choices, list):
        labels = list(dict.fromkeys(_label(c) for c in choices))
        if all(_is_number(c) for c in choices):
            labels.sort(key=float)
        labels += [label for label in _category_labels(seen) if label not in labels]
        return AxisInfo(name, labels, 0.0, float(len(labels) - 1), searched=True)
    if is_categorical(values):
        labels = _category_labels(seen)
        return AxisInfo(name, labels, 0.0, float(max(len(labels) - 1, 0)))
    numbers = seen.to_numpy(dtype=float)
    if isinstance(entry, Mapping) and _is_number(entry.get("min")) and _is_number(entry.get("max")):
        low, high = float(entry["min"]), float(entry["max"])
        if len(numbers):
            low, high = min(low, float(numbers.min())), max(high, float(numbers.max()))
        scaled = entry.get("sampling", "linear") in LOG_SAMPLINGS if log is None else log
        integer = all(isinstance(entry.get(k), int) for k in ("min", "max")) and isinstance(
            entry.get("step", 1), int
        )
        return AxisInfo(
            name, None, low, high, log=scaled and low > 0, integer=integer, searched=True
        )
    low, high = (float(numbers.min()), float(numbers.max())) if len(numbers) else (0.0, 1.0)
    scaled = infer_log(values) if log is None else log
    return AxisInfo(
        name, None, low, high, log=scaled and low > 0, integer=pd.api.types.is_integer_dtype(values)
    )


def _numeric_choice_axis(
    name: str, choices: list[Any], seen: pd.Series, log: bool | None
) -> AxisInfo:
    """A choice of numbers (batch_size = [16, 32, 64]) on a numeric axis, its values as the
    ticks: evenly spaced labels would read as a log axis where the values are not, and hide
    how far apart they are. Log-scaled when the values are positive and span more than a
    factor of 10 (or as `log` says)."""
    tried = pd.to_numeric(seen, errors="coerce").dropna()
    ticks = sorted({float(c) for c in choices} | {float(v) for v in tried})
    low, high = ticks[0], ticks[-1]
    scaled = (low > 0 and high / low > 10) if log is None else log
    integer = all(isinstance(c, (int, np.integer)) or float(c).is_integer() for c in ticks)
    return AxisInfo(
        name,
        None,
        low,
        high,
        log=scaled and low > 0,
        integer=integer,
        searched=True,
        ticks=tuple(ticks),
    )


@dataclass(frozen=True)
class HistoryInfo:
    """What `optimization_history` draws: every trial in the order run, at x = its trial number."""

    trial_ids: list[str]
    x: np.ndarray
    scores: np.ndarray  # NaN where the trial has no score (failed or diverged)
    best_so_far: np.ndarray
    failures: dict[str, np.ndarray]  # "failed" / "diverged" -> x of those trials
    direction: str
    pruned: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per trial


def optimization_history_info(table: pd.DataFrame, *, direction: str) -> HistoryInfo:
    """The data of `optimization_history`; `direction` is the campaign's ("max" or "min")."""
    check_direction(direction)
    ordered = in_trial_order(table)
    x = trial_numbers(ordered)
    kinds = failure_kinds(ordered).to_numpy()
    scores = np.where(kinds == "", ordered["score"].to_numpy(dtype=float), np.nan)
    failures = {kind: x[kinds == kind] for kind in FAILURE_STYLE if (kinds == kind).any()}
    return HistoryInfo(
        list(ordered["trial_id"].astype(str)),
        x,
        scores,
        best_so_far(list(scores), direction),
        failures,
        direction,
        (ordered["status"] == PRUNED).to_numpy(dtype=bool),
    )


@dataclass(frozen=True)
class HyperparameterInfo:
    """What `hyperparameter_vs_score` draws: scored trials best first, and the trials that
    failed or diverged, at their x on `axis` (categories jittered)."""

    name: str
    axis: AxisInfo
    x: np.ndarray
    scores: np.ndarray
    trial_ids: list[str]
    failures: dict[str, np.ndarray] = field(default_factory=dict)  # "failed" / "diverged" -> x
    pruned: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per scored trial

    @property
    def best(self) -> int | None:
        """Index of the best trial in `x` (the table is best first), None without scores."""
        return 0 if len(self.x) else None


def hyperparameter_info(
    table: pd.DataFrame,
    name: str,
    *,
    space: Mapping[str, Any] | None = None,
    log: bool | None = None,
    seed: int = 0,
) -> HyperparameterInfo:
    """The data of `hyperparameter_vs_score` (`space` is the campaign's ``[space]``)."""
    if name not in table.columns:
        raise ConfigError(f"hyperparameter must be a column of the trials table, but got {name!r}.")
    axis = axis_info(name, table[name], (space or {}).get(name), log=log)
    x = axis.positions(table[name])
    if axis.categories is not None:  # so points on one category do not hide each other
        x = x + np.random.default_rng(seed).uniform(-0.18, 0.18, size=len(x))
    kinds = failure_kinds(table).to_numpy()
    ok = kinds == ""
    failures = {kind: x[(kinds == kind) & ~np.isnan(x)] for kind in FAILURE_STYLE}
    return HyperparameterInfo(
        name,
        axis,
        x[ok],
        table["score"].to_numpy(dtype=float)[ok],
        list(table["trial_id"].astype(str)[ok]),
        {kind: xs for kind, xs in failures.items() if len(xs)},
        (table["status"] == PRUNED).to_numpy(dtype=bool)[ok],
    )


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _draw_failures(ax: Axes, failures: Mapping[str, np.ndarray]) -> None:
    """Crosses along the bottom edge at the x of each trial without a score, one legend entry
    per kind."""
    for kind, xs in failures.items():
        marker, color = FAILURE_STYLE[kind]
        # x in data units, y pinned just above the bottom edge whatever the score range is.
        ax.scatter(
            xs,
            np.full(len(xs), FAILURE_Y),
            marker=marker,
            s=30,
            color=color,
            label=kind,
            transform=ax.get_xaxis_transform(),
            zorder=3,
            clip_on=False,
        )
    if failures:  # room under the lowest score for the crosses
        low, high = ax.get_ylim()
        ax.set_ylim(low - 0.06 * (high - low), high)


def _draw_pruned(ax: Axes, x: np.ndarray, scores: np.ndarray, *, alpha: float, label: str) -> None:
    """Pruned trials' scores as hollow points: a score at the epoch the pruner stopped them."""
    if len(x):
        ax.scatter(
            x,
            scores,
            s=22,
            facecolors="none",
            edgecolors=SCORE_COLOR,
            alpha=alpha,
            label=label,
            zorder=2,
        )


def _failure_counts(failures: Mapping[str, np.ndarray]) -> str:
    return "".join(f", {len(xs)} {kind}" for kind, xs in failures.items())


# --------------------------------------------------------------------------- plots


def optimization_history(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    objective: str = "score",
    direction: str,
) -> Axes:
    """Each trial's `objective` at x = its trial id, and the best so far as a step line
    (the best by the campaign's `direction`, "max" or "min").

    Failed and diverged trials are crosses along the bottom edge, counted in the title.
    """
    info = optimization_history_info(table, direction=direction)
    ax = _new_axes(ax)
    ok = ~np.isnan(info.scores)
    pruned = ok & info.pruned if len(info.pruned) else np.zeros_like(ok)
    ax.scatter(
        info.x[ok & ~pruned],
        info.scores[ok & ~pruned],
        s=22,
        color=SCORE_COLOR,
        alpha=0.7,
        label="trial score",
        zorder=2,
    )
    _draw_pruned(ax, info.x[pruned], info.scores[pruned], alpha=0.7, label="pruned trial score")
    if ok.any():
        ax.step(
            info.x,
            info.best_so_far,
            where="post",
            color="black",
            linewidth=1.6,
            label="best so far",
            zorder=3,
        )
    _draw_failures(ax, info.failures)
    ax.set_title(
        f"Optimization history: {int((ok & ~pruned).sum())} completed trials"
        + (f", {int(pruned.sum())} pruned" if pruned.any() else "")
        + _failure_counts(info.failures)
    )
    ax.set_xlabel("trial id")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(score_label(objective, info.direction))
    if len(info.x):
        ax.set_xlim(info.x.min() - 0.5, info.x.max() + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return ax


def hyperparameter_vs_score(
    table: pd.DataFrame,
    name: str,
    ax: Axes | None = None,
    *,
    space: Mapping[str, Any] | None = None,
    objective: str = "score",
    direction: str,
    log: bool | None = None,
    seed: int = 0,
    legend: bool = True,
) -> Axes:
    """`objective` against one hyperparameter; the best trial is a red star, failed and diverged
    trials are crosses along the bottom edge at the value they tried.

    The x axis spans what `space` (the campaign's ``[space]``) searched, see `axis_info`.
    Categories sit at integer positions with a little horizontal jitter; a choice of numbers
    is a numeric axis (log beyond a factor of 10) with its values as the ticks. With
    ``legend=False`` the caller places the legend (e.g. once under a grid of these).
    """
    info = hyperparameter_info(table, name, space=space, log=log, seed=seed)
    ax = _new_axes(ax, (5.5, 4.0))
    axis = info.axis
    if axis.categories is not None:
        labels = axis.categories
        ax.set_xticks(
            range(len(labels)), labels, rotation=30 if max(map(len, labels), default=0) > 8 else 0
        )
    elif axis.log:
        ax.set_xscale("log")
    elif axis.integer:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if axis.ticks is not None:  # a numeric choice: its values, where they lie
        ax.set_xticks(list(axis.ticks), axis.tick_labels)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(*axis.limits())
    pruned = info.pruned if len(info.pruned) == len(info.x) else np.zeros(len(info.x), bool)
    ax.scatter(
        info.x[~pruned], info.scores[~pruned], s=22, color=SCORE_COLOR, alpha=0.6, label="trial"
    )
    _draw_pruned(ax, info.x[pruned], info.scores[pruned], alpha=0.6, label="pruned trial")
    if info.best is not None:
        ax.scatter(
            [info.x[info.best]],
            [info.scores[info.best]],
            marker="*",
            s=160,
            color=BEST_COLOR,
            edgecolor="black",
            linewidth=0.6,
            zorder=3,
            label="best",
        )
    _draw_failures(ax, info.failures)
    ax.set_xlabel(f"{name} (log scale)" if axis.log else name)
    ax.set_ylabel(score_label(objective, direction))
    cut = f", {int(pruned.sum())} pruned" if pruned.any() else ""
    ax.set_title(
        f"{name}: {len(info.x) - int(pruned.sum())} completed{cut}{_failure_counts(info.failures)}",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(loc="best", fontsize=8)
    return ax


def parallel_coordinates(
    table: pd.DataFrame,
    hyperparameter_names: Sequence[str],
    ax: Axes | None = None,
    *,
    top: int = 10,
    space: Mapping[str, Any] | None = None,
    objective: str = "score",
    direction: str,
) -> Axes:
    """The `top` trials as lines across one vertical axis per hyperparameter, then the objective.

    Each hyperparameter's axis spans what `space` searched, else what the completed trials
    explored (see `axis_info`); categories are evenly spaced ticks. Lines are coloured by
    score, best drawn on top.
    """
    missing = [n for n in hyperparameter_names if n not in table.columns]
    if missing:
        raise ConfigError(
            f"hyperparameters must be columns of the trials table, but got {missing}."
        )
    ax = _new_axes(ax, (max(6.0, 1.7 * (len(hyperparameter_names) + 1)), 4.5))
    done = completed(table)
    shown = done.head(top)
    label = score_label(objective, direction)
    axes = [axis_info(n, done[n], (space or {}).get(n)) for n in hyperparameter_names]
    axes.append(axis_info(label, done["score"]))
    columns = [*hyperparameter_names, "score"]
    ys = np.column_stack([a.unit(shown[c]) for a, c in zip(axes, columns)])
    xs = np.arange(len(columns), dtype=float)
    # Reverse so the best trial (first row) is drawn last, on top.
    segments = [np.column_stack([xs, ys[i]]) for i in reversed(range(len(shown)))]
    scores = shown["score"].to_numpy(dtype=float)[::-1]
    norm = Normalize(vmin=np.min(scores), vmax=np.max(scores)) if len(scores) else Normalize(0, 1)
    lines = LineCollection(
        segments, array=scores, cmap="viridis", norm=norm, linewidths=2.0, alpha=0.9
    )
    ax.add_collection(lines)
    colorbar = ax.figure.colorbar(lines, ax=ax, pad=0.02)
    colorbar.set_label(label)
    ax.vlines(xs, 0, 1, color="0.35", linewidth=1.0, zorder=0)
    for x, axis in zip(xs, axes):
        if axis.categories is not None:
            ticks = list(zip(axis.unit(axis.categories), axis.categories))
        elif axis.ticks is not None:
            ticks = list(zip(axis.unit(axis.ticks), axis.tick_labels))
        else:
            ends = (axis.low, axis.high) if axis.high > axis.low else (axis.low,)
            ticks = list(zip(axis.unit(ends), (f"{v:.3g}" for v in ends)))
        for y, text in ticks:
            ax.text(
                x + 0.04,
                y,
                text,
                fontsize=8,
                va="center",
                ha="left",
                bbox={
                    "boxstyle": "round,pad=0.15",
                    "facecolor": "white",
                    "edgecolor": "none",
                    "alpha": 0.8,
                },
            )
    names = [f"{a.name}\n(log)" if a.log and a.name != label else a.name for a in axes]
    ax.set_xticks(xs, names, rotation=20 if max(map(len, names)) > 10 else 0)
    ax.set_xlim(-0.2, len(columns) - 0.5)
    ax.set_ylim(-0.06, 1.06)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"Top {len(shown)} of {len(done)} completed trials")
    return ax


def curve_legend(ax: Axes) -> tuple[list[Any], list[str]]:
    """Legend entries of a `learning_curves` Axes: one per trial, then the line-style key."""
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", linestyle="-"),
        Line2D([], [], color="0.3", linestyle="--"),
        Line2D([], [], color="black", marker="o", linestyle="none", markersize=5),
    ]
    return handles, labels + ["training", "validation", "best epoch"]


def learning_curves(
    history: pd.DataFrame,
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    top: int = 5,
    metric: str = "loss",
    legend: bool = True,
    objective: str = "score",
) -> Axes:
    """Per-epoch `metric` of the `top` trials: training solid, validation dashed, one colour each.

    The best epoch of each trial is marked with a dot on its validation curve (or its training
    curve when there is no validation metric); the legend names each trial and its `objective`.
    Losses spanning >= 100x get a log y axis. With ``legend=False`` the caller places
    `curve_legend` itself (e.g. below a row of panels).
    """
    base = metric[len("val_") :] if metric.startswith("val_") else metric
    val = f"val_{base}"
    if base not in history.columns and val not in history.columns:
        known = [c for c in history.columns if c not in ("trial_id", "epoch")]
        raise ConfigError(f"metric must be one of the logged metrics {known}, but got {metric!r}.")
    ax = _new_axes(ax)
    shown = completed(table).head(top)
    colors = matplotlib.colormaps["tab10"]
    marks_x, marks_y = [], []
    for i, (trial_id, score, best_epoch) in enumerate(
        shown[["trial_id", "score", "best_epoch"]].itertuples(index=False)
    ):
        rows = history[history["trial_id"].astype(str) == str(trial_id)].sort_values("epoch")
        color = colors(i % 10)
        label = f"trial {trial_id} ({objective} {score:.4g})"
        for column, style in ((base, "-"), (val, "--")):
            if column in rows.columns:
                ax.plot(
                    rows["epoch"],
                    rows[column],
                    linestyle=style,
                    color=color,
                    linewidth=1.6,
                    label=label if style == "-" or base not in rows.columns else None,
                )
        marked = val if val in rows.columns else base
        at_best = rows[rows["epoch"] == best_epoch]
        if len(at_best) and marked in rows.columns:
            marks_x.append(float(best_epoch))
            marks_y.append(float(at_best[marked].iloc[0]))
    if marks_x:
        ax.scatter(marks_x, marks_y, s=30, color="black", zorder=3)
    values = pd.concat([history[c] for c in (base, val) if c in history.columns])
    if base.endswith("loss") and infer_log(values):
        ax.set_yscale("log")
    if legend:
        handles, labels = curve_legend(ax)
        ax.legend(handles, labels, fontsize=8, loc="best", ncol=2 if len(labels) > 6 else 1)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(base)
    ax.set_title(f"Learning curves of the top {len(shown)} trials: {base}")
    ax.grid(alpha=0.3)
    return ax


def hyperband_budget(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Epochs each trial ran, one bar per trial at x = its trial id, coloured by Hyperband bracket.

    Later rounds of a bracket (trials resumed with a bigger budget) are drawn hatched.
    """
    ax = _new_axes(ax, (8.0, 4.2))
    ordered = in_trial_order(table)
    x = trial_numbers(ordered)
    epochs = ordered["epochs_run"].to_numpy(dtype=float)
    brackets = (
        ordered[BRACKET_KEY] if BRACKET_KEY in ordered else pd.Series([np.nan] * len(ordered))
    )
    rounds = ordered[ROUND_KEY] if ROUND_KEY in ordered else pd.Series([0] * len(ordered))
    colors = matplotlib.colormaps["tab10"]
    known = sorted({int(b) for b in brackets.dropna()})
    color_of = {b: colors(i % 10) for i, b in enumerate(known)}
    bar_colors = [color_of.get(int(b), "0.6") if pd.notna(b) else "0.6" for b in brackets]
    hatches = ["///" if pd.notna(r) and int(r) > 0 else "" for r in rounds]
    failed = (~ordered["status"].isin(SCORED)).to_numpy()
    bars = ax.bar(x, epochs, width=0.85, color=bar_colors, edgecolor="white", linewidth=0.3)
    for bar, hatch, bad in zip(bars, hatches, failed):
        bar.set_hatch(hatch)
        bar.set_hatchcolor("0.15")
        if bad:
            bar.set_alpha(0.35)
    legend = [Patch(facecolor=color_of[b], label=f"bracket {b}") for b in known]
    if any(hatches):
        legend.append(
            Patch(facecolor="white", edgecolor="0.3", hatch="///", label="round ≥ 1 (continued)")
        )
    if failed.any():
        legend.append(Patch(facecolor="0.6", alpha=0.35, label="failed"))
    if legend:
        ax.legend(
            handles=legend,
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0,
        )
    ax.set_xlabel("trial id")
    ax.set_ylabel("epochs run")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(x):
        ax.set_xlim(x.min() - 0.7, x.max() + 0.7)
    ax.set_title(f"Training budget: {int(np.nansum(epochs))} epochs over {len(ordered)} trials")
    ax.grid(axis="y", alpha=0.3)
    return ax


# --------------------------------------------------------------------------- files


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def varying_hyperparameters(table: pd.DataFrame, history: pd.DataFrame | None = None) -> list[str]:
    """Public hyperparameter columns that take more than one value over all trials, failed ones
    included."""
    names, _ = split_columns(table, history)
    return [
        n
        for n in names
        if not n.startswith(INTERNAL_PREFIX) and table[n].dropna().astype(str).nunique() > 1
    ]


def save_all(view: CampaignView, folder: str | Path, *, top: int = 10) -> list[Path]:
    """Draw every plot that applies to `view` as PNG files inside `folder`; return their paths."""
    folder = Path(folder)
    table, history = view.table, view.history
    scored: dict[str, Any] = {"objective": view.objective, "direction": view.direction}
    done = completed(table)
    paths: list[Path] = []
    if not len(table):
        return paths

    figure = Figure(figsize=(8.0, 4.5), layout="constrained")
    optimization_history(table, figure.add_subplot(), **scored)
    paths.append(_save(figure, folder / OPTIMIZATION_HISTORY_PLOT))

    names = varying_hyperparameters(table, history)
    if names:
        ncols = min(3, len(names))
        nrows = -(-len(names) // ncols)
        figure = Figure(figsize=(3.8 * ncols, 3.3 * nrows + 0.4), layout="constrained")
        handles: dict[str, Any] = {}
        for i, name in enumerate(names):
            ax = hyperparameter_vs_score(
                table,
                name,
                figure.add_subplot(nrows, ncols, i + 1),
                space=view.space,
                legend=False,
                **scored,
            )
            drawn, labels = ax.get_legend_handles_labels()
            handles.update(zip(labels, drawn))
        figure.suptitle(f"{view.score_label} against each hyperparameter")
        if handles:  # one legend under the grid: inside an Axes it hides points
            figure.legend(
                list(handles.values()),
                list(handles),
                loc="outside lower center",
                ncol=len(handles),
                fontsize=9,
                frameon=False,
            )
        paths.append(_save(figure, folder / HYPERPARAMETERS_PLOT))

    if len(names) >= 2 and len(done) >= 2:
        figure = Figure(figsize=(max(7.5, 1.6 * (len(names) + 1) + 1.5), 4.8), layout="constrained")
        parallel_coordinates(
            table, names, figure.add_subplot(), top=top, space=view.space, **scored
        )
        paths.append(_save(figure, folder / PARALLEL_COORDINATES_PLOT))

    if history is not None and len(done):
        metrics = [c for c in history.columns if c not in ("trial_id", "epoch")]
        bases = list(
            dict.fromkeys(m[len("val_") :] if m.startswith("val_") else m for m in metrics)
        )
        bases = sorted(bases, key=lambda b: (not b.endswith("loss"), bases.index(b)))[:2]
        if bases:
            figure = Figure(figsize=(5.6 * len(bases), 4.3), layout="constrained")
            axes = [figure.add_subplot(1, len(bases), i + 1) for i in range(len(bases))]
            for ax, base in zip(axes, bases):
                learning_curves(
                    history,
                    table,
                    ax,
                    top=min(top, 5),
                    metric=base,
                    legend=False,
                    objective=view.objective,
                )
            # One legend under the panels: inside an Axes it hides curves.
            curve_handles, curve_labels = curve_legend(axes[0])
            figure.legend(
                curve_handles,
                curve_labels,
                loc="outside lower center",
                ncol=4,
                fontsize=9,
                frameon=False,
            )
            paths.append(_save(figure, folder / LEARNING_CURVES_PLOT))

    if len(view.objectives) > 1 and len(done):
        from tuner.plots.pareto import pareto_front_plot, pareto_info

        figure = Figure(figsize=(7.0, 4.8), layout="constrained")
        pareto_front_plot(pareto_info(table, view.objectives), figure.add_subplot())
        paths.append(_save(figure, folder / PARETO_PLOT))

    # Only worth a figure when budgets differ by design or by early stopping, not by failures.
    if BRACKET_KEY in table.columns or done["epochs_run"].nunique() > 1:
        figure = Figure(figsize=(9.0, 4.2), layout="constrained")
        hyperband_budget(table, figure.add_subplot())
        paths.append(_save(figure, folder / BUDGET_PLOT))
    return paths


__all__ = [
    "optimization_history",
    "optimization_history_info",
    "hyperparameter_vs_score",
    "hyperparameter_info",
    "parallel_coordinates",
    "learning_curves",
    "hyperband_budget",
    "save_all",
    "curve_legend",
    "completed",
    "failure_kinds",
    "in_trial_order",
    "trial_numbers",
    "infer_log",
    "is_categorical",
    "best_so_far",
    "axis_info",
    "AxisInfo",
    "HistoryInfo",
    "HyperparameterInfo",
    "varying_hyperparameters",
]
