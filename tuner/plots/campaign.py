"""Campaign plots: compute the data from a results table, then draw it on matplotlib Axes.

Every drawing function takes a ranked trials table (as written to ``trials.csv``) and an
optional Axes; without one it makes a new `matplotlib.figure.Figure` (never pyplot's global
state) and returns the Axes it drew on.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
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
from matplotlib.ticker import MaxNLocator

from tuner.errors import ConfigError
from tuner.results import INTERNAL_PREFIX, infer_log, is_categorical, load_with_history, split_columns

DPI = 110
BRACKET_KEY = "tuner/bracket"
ROUND_KEY = "tuner/round"
SCORE_COLOR = "tab:blue"
FAILED_COLOR = "tab:red"


# --------------------------------------------------------------------------- data


def completed(table: pd.DataFrame) -> pd.DataFrame:
    """Completed trials that have a score, best first (the table's own order)."""
    mask = (table["status"] == "completed") & table["score"].notna()
    return table[mask]


def _natural_key(trial_id: Any) -> list[tuple[int, Any]]:
    parts = re.split(r"(\d+)", str(trial_id))
    return [(0, int(p)) if p.isdigit() else (1, p) for p in parts if p != ""]


def in_trial_order(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order the trials ran, recovered from their ids ("2" before "10")."""
    order = sorted(range(len(table)), key=lambda i: _natural_key(table["trial_id"].iloc[i]))
    return table.iloc[order]


def infer_direction(table: pd.DataFrame) -> str:
    """"max" or "min", read off the ranked table (rank 1 holds the best score)."""
    scores = completed(table).sort_values("rank")["score"].to_numpy(dtype=float)
    return "min" if len(scores) > 1 and scores[0] < scores[-1] else "max"


def best_so_far(scores: Sequence[float], direction: str) -> np.ndarray:
    """The running best of `scores` (NaN ignored) for ``direction`` "max" or "min"."""
    values = np.asarray(scores, dtype=float)
    filled = np.where(np.isnan(values), -np.inf if direction == "max" else np.inf, values)
    running = np.maximum.accumulate(filled) if direction == "max" else np.minimum.accumulate(filled)
    return np.where(np.isinf(running), np.nan, running)


def _category_labels(values: pd.Series) -> list[str]:
    seen = [str(v) for v in values.dropna()]
    uniques = list(dict.fromkeys(seen))
    try:  # numeric-looking categories read best in numeric order
        return sorted(uniques, key=float)
    except ValueError:
        return sorted(uniques)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] = (7.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    return Figure(figsize=figsize, layout="constrained").add_subplot()


def _score_label(table: pd.DataFrame, direction: str) -> str:
    return f"score ({'higher' if direction == 'max' else 'lower'} is better)"


# --------------------------------------------------------------------------- plots


def optimization_history(table: pd.DataFrame, ax: Axes | None = None, *, direction: str | None = None) -> Axes:
    """Each trial's score in the order trials ran, and the best so far as a step line.

    Failed trials are drawn as red crosses along the bottom edge and counted in the title.
    """
    ax = _new_axes(ax)
    direction = direction or infer_direction(table)
    ordered = in_trial_order(table).reset_index(drop=True)
    position = np.arange(1, len(ordered) + 1)
    ok = ((ordered["status"] == "completed") & ordered["score"].notna()).to_numpy()
    scores = ordered["score"].to_numpy(dtype=float)

    ax.scatter(position[ok], scores[ok], s=22, color=SCORE_COLOR, alpha=0.7, label="trial score", zorder=2)
    if ok.any():
        ax.step(position, best_so_far(np.where(ok, scores, np.nan), direction), where="post",
                color="black", linewidth=1.6, label="best so far", zorder=3)
    n_failed = int((~ok).sum())
    if n_failed:
        # x in data units, y pinned just above the bottom edge whatever the score range is.
        ax.scatter(position[~ok], np.full(n_failed, 0.03), marker="x", s=30, color=FAILED_COLOR,
                   transform=ax.get_xaxis_transform(), label="failed", zorder=2, clip_on=False)
    title = f"Optimization history: {int(ok.sum())} completed trials"
    if n_failed:
        title += f", {n_failed} failed"
    ax.set_title(title)
    ax.set_xlabel("trial (in order run)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(_score_label(table, direction))
    ax.set_xlim(0.5, max(len(ordered), 1) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return ax


def hyperparameter_vs_score(
    table: pd.DataFrame, name: str, ax: Axes | None = None, *, log: bool | None = None, seed: int = 0
) -> Axes:
    """Score against one hyperparameter over completed trials; the best trial is a red star.

    Numbers get a log x axis when `log` is True, or when it is None and `infer_log` says so.
    Categories sit at integer positions with a little horizontal jitter so points do not hide
    each other.
    """
    if name not in table.columns:
        raise ConfigError(f"hyperparameter must be a column of the trials table, but got {name!r}.")
    ax = _new_axes(ax, (5.5, 4.0))
    done = completed(table)
    values = done[name]
    scores = done["score"].to_numpy(dtype=float)
    best = 0 if len(done) else None  # the table is best first
    if is_categorical(values):
        labels = _category_labels(values)
        index = {label: i for i, label in enumerate(labels)}
        positions = np.array([index.get(str(v), np.nan) for v in values], dtype=float)
        jitter = np.random.default_rng(seed).uniform(-0.18, 0.18, size=len(positions))
        x = positions + jitter
        ax.set_xticks(range(len(labels)), labels, rotation=30 if max(map(len, labels), default=0) > 8 else 0)
        ax.set_xlim(-0.6, len(labels) - 0.4)
    else:
        x = values.to_numpy(dtype=float)
        if log if log is not None else infer_log(values):
            ax.set_xscale("log")
        elif pd.api.types.is_integer_dtype(values):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.scatter(x, scores, s=22, color=SCORE_COLOR, alpha=0.6, label="trial")
    if best is not None:
        # No legend: in a grid of these it would hide points; the title names the star instead.
        ax.scatter([x[best]], [scores[best]], marker="*", s=160, color=FAILED_COLOR, edgecolor="black",
                   linewidth=0.6, zorder=3, label="best")
    ax.set_xlabel(f"{name} (log scale)" if ax.get_xscale() == "log" else name)
    ax.set_ylabel("score")
    ax.set_title(f"{name}: {len(done)} trials, red star = best", fontsize=10)
    ax.grid(alpha=0.3)
    return ax


def _axis_positions(values: pd.Series, shown: pd.Series) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """`shown` mapped into [0, 1] on a scale fitted to `values`, and (position, label) ticks."""
    if is_categorical(values):
        labels = _category_labels(values)
        spots = np.linspace(0, 1, len(labels)) if len(labels) > 1 else np.array([0.5])
        where = dict(zip(labels, spots))
        return np.array([where.get(str(v), np.nan) for v in shown]), list(zip(spots, labels))
    numbers = values.to_numpy(dtype=float)
    target = shown.to_numpy(dtype=float)
    log = infer_log(values)
    if log:
        numbers, target = np.log10(numbers), np.log10(target)
    low, high = np.nanmin(numbers), np.nanmax(numbers)
    span = high - low if high > low else 1.0
    ticks = []
    for raw in (low, high) if high > low else (low,):
        value = 10 ** raw if log else raw
        ticks.append(((raw - low) / span if high > low else 0.5, f"{value:.3g}"))
    positions = (target - low) / span if high > low else np.full(len(target), 0.5)
    return positions, ticks


def parallel_coordinates(
    table: pd.DataFrame,
    hyperparameter_names: Sequence[str],
    ax: Axes | None = None,
    *,
    top: int = 10,
) -> Axes:
    """The `top` trials as lines across one vertical axis per hyperparameter, then the score.

    Each axis spans what all completed trials explored (log-scaled where `infer_log` says so);
    categories are evenly spaced ticks. Lines are coloured by score, best drawn on top.
    """
    missing = [n for n in hyperparameter_names if n not in table.columns]
    if missing:
        raise ConfigError(f"hyperparameters must be columns of the trials table, but got {missing}.")
    ax = _new_axes(ax, (max(6.0, 1.7 * (len(hyperparameter_names) + 1)), 4.5))
    done = completed(table)
    shown = done.head(top)
    names = [*hyperparameter_names, "score"]
    columns, ticks = [], []
    for name in names:
        positions, axis_ticks = _axis_positions(done[name], shown[name])
        columns.append(positions)
        ticks.append(axis_ticks)
    ys = np.column_stack(columns) if columns else np.empty((0, 0))
    xs = np.arange(len(names), dtype=float)
    # Reverse so the best trial (first row) is drawn last, on top.
    segments = [np.column_stack([xs, ys[i]]) for i in reversed(range(len(shown)))]
    scores = shown["score"].to_numpy(dtype=float)[::-1]
    norm = Normalize(vmin=np.min(scores), vmax=np.max(scores)) if len(scores) else Normalize(0, 1)
    lines = LineCollection(segments, array=scores, cmap="viridis", norm=norm, linewidths=2.0, alpha=0.9)
    ax.add_collection(lines)
    colorbar = ax.figure.colorbar(lines, ax=ax, pad=0.02)
    colorbar.set_label("score")
    ax.vlines(xs, 0, 1, color="0.35", linewidth=1.0, zorder=0)
    for x, axis_ticks in zip(xs, ticks):
        for y, label in axis_ticks:
            ax.text(x + 0.04, y, label, fontsize=8, va="center", ha="left",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    axis_names = [
        f"{n}\n(log)" if n != "score" and not is_categorical(done[n]) and infer_log(done[n]) else n for n in names
    ]
    ax.set_xticks(xs, axis_names, rotation=20 if max(map(len, names)) > 10 else 0)
    ax.set_xlim(-0.2, len(names) - 0.5)
    ax.set_ylim(-0.06, 1.06)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"Top {len(shown)} of {len(done)} completed trials")
    return ax


def curve_legend(ax: Axes) -> tuple[list[Any], list[str]]:
    """Legend entries of a `learning_curves` Axes: one per trial, then the line-style key."""
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", linestyle="-"), Line2D([], [], color="0.3", linestyle="--"),
                Line2D([], [], color="black", marker="o", linestyle="none", markersize=5)]
    return handles, labels + ["training", "validation", "best epoch"]


def learning_curves(
    history: pd.DataFrame,
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    top: int = 5,
    metric: str = "loss",
    legend: bool = True,
) -> Axes:
    """Per-epoch `metric` of the `top` trials: training solid, validation dashed, one colour each.

    The best epoch of each trial is marked with a dot on its validation curve (or its training
    curve when there is no validation metric). Losses spanning >= 100x get a log y axis.
    With ``legend=False`` the caller places `curve_legend` itself (e.g. below a row of panels).
    """
    base = metric[len("val_"):] if metric.startswith("val_") else metric
    val = f"val_{base}"
    if base not in history.columns and val not in history.columns:
        known = [c for c in history.columns if c not in ("trial_id", "epoch")]
        raise ConfigError(f"metric must be one of the logged metrics {known}, but got {metric!r}.")
    ax = _new_axes(ax)
    shown = completed(table).head(top)
    colors = matplotlib.colormaps["tab10"]
    marks_x, marks_y = [], []
    for i, (trial_id, score, best_epoch) in enumerate(shown[["trial_id", "score", "best_epoch"]].itertuples(index=False)):
        rows = history[history["trial_id"].astype(str) == str(trial_id)].sort_values("epoch")
        color = colors(i % 10)
        label = f"trial {trial_id} (score {score:.4g})"
        for column, style in ((base, "-"), (val, "--")):
            if column in rows.columns:
                ax.plot(rows["epoch"], rows[column], linestyle=style, color=color, linewidth=1.6,
                        label=label if style == "-" or base not in rows.columns else None)
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
    """Epochs each trial ran, one bar per trial in the order run, coloured by Hyperband bracket.

    Later rounds of a bracket (trials resumed with a bigger budget) are drawn hatched.
    """
    ax = _new_axes(ax, (8.0, 4.2))
    ordered = in_trial_order(table).reset_index(drop=True)
    position = np.arange(1, len(ordered) + 1)
    epochs = ordered["epochs_run"].to_numpy(dtype=float)
    brackets = ordered[BRACKET_KEY] if BRACKET_KEY in ordered else pd.Series([np.nan] * len(ordered))
    rounds = ordered[ROUND_KEY] if ROUND_KEY in ordered else pd.Series([0] * len(ordered))
    colors = matplotlib.colormaps["tab10"]
    known = sorted({int(b) for b in brackets.dropna()})
    color_of = {b: colors(i % 10) for i, b in enumerate(known)}
    bar_colors = [color_of.get(int(b), "0.6") if pd.notna(b) else "0.6" for b in brackets]
    hatches = ["///" if pd.notna(r) and int(r) > 0 else "" for r in rounds]
    failed = (ordered["status"] != "completed").to_numpy()
    bars = ax.bar(position, epochs, width=0.85, color=bar_colors, edgecolor="white", linewidth=0.3)
    for bar, hatch, bad in zip(bars, hatches, failed):
        bar.set_hatch(hatch)
        bar.set_hatchcolor("0.15")
        if bad:
            bar.set_alpha(0.35)
    legend = [Patch(facecolor=color_of[b], label=f"bracket {b}") for b in known]
    if any(hatches):
        legend.append(Patch(facecolor="white", edgecolor="0.3", hatch="///", label="round ≥ 1 (continued)"))
    if failed.any():
        legend.append(Patch(facecolor="0.6", alpha=0.35, label="failed"))
    if legend:
        ax.legend(handles=legend, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_xlabel("trial (in order run)")
    ax.set_ylabel("epochs run")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0.3, max(len(ordered), 1) + 0.7)
    ax.set_title(f"Training budget: {int(np.nansum(epochs))} epochs over {len(ordered)} trials")
    ax.grid(axis="y", alpha=0.3)
    return ax


# --------------------------------------------------------------------------- files


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    return path


def varying_hyperparameters(table: pd.DataFrame, history: pd.DataFrame | None = None) -> list[str]:
    """Public hyperparameter columns that take more than one value over completed trials."""
    names, _ = split_columns(table, history)
    done = completed(table)
    return [n for n in names if not n.startswith(INTERNAL_PREFIX) and done[n].astype(str).nunique() > 1]


def save_all(results_folder: str | Path, *, top: int = 10) -> list[Path]:
    """Draw every plot that applies to a results folder as PNG files inside it; return their paths."""
    folder = Path(results_folder)
    table, history = load_with_history(folder)
    done = completed(table)
    paths: list[Path] = []
    if not len(table):
        return paths

    figure = Figure(figsize=(8.0, 4.5), layout="constrained")
    optimization_history(table, figure.add_subplot())
    paths.append(_save(figure, folder / "optimization_history.png"))

    names = varying_hyperparameters(table, history)
    if names and len(done):
        ncols = min(3, len(names))
        nrows = -(-len(names) // ncols)
        figure = Figure(figsize=(3.8 * ncols, 3.3 * nrows), layout="constrained")
        for i, name in enumerate(names):
            hyperparameter_vs_score(table, name, figure.add_subplot(nrows, ncols, i + 1))
        figure.suptitle("Score against each hyperparameter (completed trials)")
        paths.append(_save(figure, folder / "hyperparameters.png"))

    if len(names) >= 2 and len(done) >= 2:
        figure = Figure(figsize=(max(7.5, 1.6 * (len(names) + 1) + 1.5), 4.8), layout="constrained")
        parallel_coordinates(table, names, figure.add_subplot(), top=top)
        paths.append(_save(figure, folder / "parallel_coordinates.png"))

    if history is not None and len(done):
        metrics = [c for c in history.columns if c not in ("trial_id", "epoch")]
        bases = list(dict.fromkeys(m[len("val_"):] if m.startswith("val_") else m for m in metrics))
        bases = sorted(bases, key=lambda b: (not b.endswith("loss"), bases.index(b)))[:2]
        if bases:
            figure = Figure(figsize=(5.6 * len(bases), 4.3), layout="constrained")
            axes = [figure.add_subplot(1, len(bases), i + 1) for i in range(len(bases))]
            for ax, base in zip(axes, bases):
                learning_curves(history, table, ax, top=min(top, 5), metric=base, legend=False)
            # One legend under the panels: inside an Axes it hides curves.
            handles, labels = curve_legend(axes[0])
            figure.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9, frameon=False)
            paths.append(_save(figure, folder / "learning_curves.png"))

    # Only worth a figure when budgets differ by design or by early stopping, not by failures.
    if BRACKET_KEY in table.columns or done["epochs_run"].nunique() > 1:
        figure = Figure(figsize=(9.0, 4.2), layout="constrained")
        hyperband_budget(table, figure.add_subplot())
        paths.append(_save(figure, folder / "budget.png"))
    return paths


__all__ = [
    "optimization_history",
    "hyperparameter_vs_score",
    "parallel_coordinates",
    "learning_curves",
    "hyperband_budget",
    "save_all",
    "curve_legend",
    "completed",
    "in_trial_order",
    "infer_direction",
    "infer_log",
    "is_categorical",
    "best_so_far",
    "varying_hyperparameters",
]
