"""Search strategies compared over repeated runs: the best score found so far against the
trials used and against the epochs trained, mean and spread over the runs (seeds) of each
strategy. Compute the info (`best_so_far_comparison`) from the runs' ranked tables, then draw
it (`draw_best_so_far`); `summary_table` gives the numbers at the end of the runs.

Each run's trials are taken in the order they ran (their ids); a failed trial uses its
epochs and finds nothing. A run that ended early (its budget spent) keeps its last best from
then on, so the mean at the right edge compares what each strategy found with equal budgets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tuner.direction import check_direction
from tuner.errors import ConfigError
from tuner.plots.campaign import best_so_far, in_trial_order
from tuner.trial import SCORED


@dataclass(frozen=True)
class RunCurve:
    """One run: after each of its trials (in the order run), the trials used, the epochs
    trained in all and the best score so far (NaN before the first score)."""

    trials: np.ndarray
    epochs: np.ndarray
    best: np.ndarray


@dataclass(frozen=True)
class GroupCurves:
    """A strategy's runs, and their best so far on shared x grids (`trial_grid`,
    `epoch_grid`): the mean over runs and the lowest and highest run."""

    label: str
    runs: tuple[RunCurve, ...]
    trial_grid: np.ndarray
    by_trials: np.ndarray  # shape (3, len(trial_grid)): mean, low, high
    epoch_grid: np.ndarray
    by_epochs: np.ndarray  # shape (3, len(epoch_grid))


@dataclass(frozen=True)
class BestSoFarInfo:
    groups: tuple[GroupCurves, ...]
    direction: str
    objective: str


def run_curve(table: pd.DataFrame, direction: str) -> RunCurve:
    """The best so far after each trial of one run's ranked table."""
    ordered = in_trial_order(table)
    scored = ordered["status"].isin(SCORED)
    scores = ordered["score"].astype(float).where(scored).tolist()
    epochs = ordered["epochs_run"].fillna(0).to_numpy(dtype=float)
    return RunCurve(
        trials=np.arange(1, len(ordered) + 1, dtype=float),
        epochs=np.cumsum(epochs),
        best=best_so_far(scores, direction),
    )


def _at(x: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A run's step curve read at `grid`: the best after the last trial with x <= grid,
    NaN before its first trial, held after its last."""
    index = np.searchsorted(x, grid, side="right") - 1
    return np.where(index >= 0, best[np.clip(index, 0, None)], np.nan)


def _band(values: np.ndarray) -> np.ndarray:
    """Mean, lowest and highest over runs (rows), NaN where no run has a value yet."""
    out = np.full((3, values.shape[1]), np.nan)
    known = ~np.isnan(values).all(axis=0)
    out[0, known] = np.nanmean(values[:, known], axis=0)
    out[1, known] = np.nanmin(values[:, known], axis=0)
    out[2, known] = np.nanmax(values[:, known], axis=0)
    return out


def best_so_far_comparison(
    groups: Mapping[str, Sequence[pd.DataFrame]], *, direction: str, objective: str = "score"
) -> BestSoFarInfo:
    """`groups`: a label (a strategy) -> the ranked tables of its runs (one per seed)."""
    direction = check_direction(direction)
    if not groups or any(len(tables) == 0 for tables in groups.values()):
        raise ConfigError("compare at least one group of runs, each with at least one run.")
    out = []
    for label, tables in groups.items():
        runs = tuple(run_curve(t, direction) for t in tables)
        trial_grid = np.arange(1, max(len(r.trials) for r in runs) + 1, dtype=float)
        epoch_grid = np.unique(np.concatenate([r.epochs for r in runs]))
        out.append(
            GroupCurves(
                label=label,
                runs=runs,
                trial_grid=trial_grid,
                by_trials=_band(np.stack([_at(r.trials, r.best, trial_grid) for r in runs])),
                epoch_grid=epoch_grid,
                by_epochs=_band(np.stack([_at(r.epochs, r.best, epoch_grid) for r in runs])),
            )
        )
    return BestSoFarInfo(tuple(out), direction, objective)


def summary_table(info: BestSoFarInfo) -> pd.DataFrame:
    """One row per group: runs, the final best score's mean, std, min and max over runs, and
    the trials and epochs the runs used on average."""
    rows = []
    for group in info.groups:
        finals = np.array([r.best[-1] if len(r.best) else np.nan for r in group.runs])
        rows.append(
            {
                "group": group.label,
                "runs": len(group.runs),
                "best_mean": float(np.nanmean(finals)),
                "best_std": float(np.nanstd(finals)),
                "best_min": float(np.nanmin(finals)),
                "best_max": float(np.nanmax(finals)),
                "trials_mean": float(np.mean([len(r.trials) for r in group.runs])),
                "epochs_mean": float(np.mean([r.epochs[-1] for r in group.runs if len(r.epochs)])),
            }
        )
    return pd.DataFrame(rows)


def draw_best_so_far(info: BestSoFarInfo, figure: Figure | None = None) -> Figure:
    """Two panels, best so far against trials used and against epochs trained: each group's
    mean as a line, the band from its lowest to its highest run shaded."""
    if figure is None:
        figure = Figure(figsize=(11.0, 4.4), layout="constrained")
    by_trials, by_epochs = figure.subplots(1, 2, sharey=True)
    colors = matplotlib.colormaps["tab10"]
    for i, group in enumerate(info.groups):
        color = colors(i % 10)
        label = f"{group.label} ({len(group.runs)} runs)"
        for ax, x, band in (
            (by_trials, group.trial_grid, group.by_trials),
            (by_epochs, group.epoch_grid, group.by_epochs),
        ):
            ax.step(x, band[0], where="post", color=color, linewidth=1.8, label=label)
            ax.fill_between(x, band[1], band[2], step="post", color=color, alpha=0.15)
    by_trials.set_xlabel("trials used")
    by_epochs.set_xlabel("epochs trained (all trials)")
    by_trials.set_ylabel(f"best {info.objective} so far ({info.direction})")
    for ax in (by_trials, by_epochs):
        ax.grid(alpha=0.3)
    by_epochs.legend(fontsize=8, loc="best")
    figure.suptitle("Best score so far: mean over runs, band from the worst to the best run")
    return figure


__all__ = [
    "BestSoFarInfo",
    "GroupCurves",
    "RunCurve",
    "best_so_far_comparison",
    "draw_best_so_far",
    "run_curve",
    "summary_table",
]
