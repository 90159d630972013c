"""The overfitting gap: per-epoch training and validation curves of a metric, one panel per
trial, across trials (Saito ch.6's training-vs-test accuracy figures). Compute the info
(`train_val_info`) from the history table, then draw it (`train_val_curves`).

Every trial of a small campaign (a grid over one setting, up to `ALL_TRIALS_UP_TO` trials) is
drawn, else the top `top`; panels share their axes, so gaps compare at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tuner.errors import ConfigError
from tuner.plots.campaign import completed, varying_hyperparameters
from tuner.plots.view import CampaignView
from tuner.results import format_cell
from tuner.store.folder import TRAIN_VAL_PLOT

ALL_TRIALS_UP_TO = 12
DEFAULT_TOP = 9
DPI = 110


@dataclass(frozen=True)
class TrialCurves:
    """One trial's per-epoch training and validation values; `label` names the trial and the
    hyperparameters that vary across the campaign."""

    trial_id: str
    label: str
    epochs: np.ndarray
    train: np.ndarray
    val: np.ndarray

    @property
    def final_gap(self) -> float:
        """Training minus validation at the last epoch (positive: the model fits its
        training data better than data it has not seen)."""
        return float(self.train[-1] - self.val[-1]) if len(self.epochs) else float("nan")


@dataclass(frozen=True)
class TrainValInfo:
    """The curves of the trials shown, best first, for `metric` (its training name)."""

    metric: str
    trials: tuple[TrialCurves, ...]


def train_val_metric(history: pd.DataFrame | None, objective: str = "") -> str | None:
    """The metric worth a train-vs-validation figure: the objective's when it is not a loss
    and both ``m`` and ``val_m`` were logged, else ``accuracy`` when both were; None when
    neither (the learning curves already show the losses)."""
    if history is None:
        return None
    base = objective.removeprefix("val_")
    for metric in (base, "accuracy"):
        if metric and not metric.endswith("loss"):
            if {metric, f"val_{metric}"} <= set(history.columns):
                return metric
    return None


def train_val_info(
    history: pd.DataFrame,
    table: pd.DataFrame,
    metric: str,
    *,
    top: int | None = None,
) -> TrainValInfo:
    """`metric` and ``val_<metric>`` per epoch for the completed trials of `table`: all of
    them when there are at most `ALL_TRIALS_UP_TO`, else the best `top` (default 9)."""
    metric = metric.removeprefix("val_")
    missing = [c for c in (metric, f"val_{metric}") if c not in history.columns]
    if missing:
        known = [c for c in history.columns if c not in ("trial_id", "epoch")]
        raise ConfigError(
            f"the history has no {missing[0]!r} to draw; logged metrics: {', '.join(known)}."
        )
    done = completed(table)
    if top is None:
        top = len(done) if len(done) <= ALL_TRIALS_UP_TO else DEFAULT_TOP
    names = varying_hyperparameters(table, history)
    curves = []
    for _, row in done.head(top).iterrows():
        rows = history[history["trial_id"].astype(str) == str(row["trial_id"])]
        rows = rows.sort_values("epoch")
        described = ", ".join(f"{n}={format_cell(row[n], max_width=14)}" for n in names)
        curves.append(
            TrialCurves(
                trial_id=str(row["trial_id"]),
                label=f"trial {row['trial_id']}" + (f": {described}" if described else ""),
                epochs=rows["epoch"].to_numpy(dtype=float),
                train=rows[metric].to_numpy(dtype=float),
                val=rows[f"val_{metric}"].to_numpy(dtype=float),
            )
        )
    return TrainValInfo(metric, tuple(curves))


def train_val_curves(info: TrainValInfo, figure: Figure | None = None) -> Figure:
    """One panel per trial: training solid, validation dashed, the gap between them shaded,
    the last epoch's gap written in the corner. Returns the Figure (no pyplot state)."""
    n = len(info.trials)
    if n == 0:
        raise ConfigError("no completed trial has curves to draw.")
    ncols = min(3, n)
    nrows = -(-n // ncols)
    if figure is None:
        figure = Figure(figsize=(3.9 * ncols, 2.8 * nrows + 0.6), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax, trial in zip(axes, info.trials):
        ax.plot(trial.epochs, trial.train, color="tab:blue", linewidth=1.5, label="training")
        ax.plot(
            trial.epochs,
            trial.val,
            color="tab:orange",
            linestyle="--",
            linewidth=1.5,
            label="validation",
        )
        ax.fill_between(trial.epochs, trial.train, trial.val, color="0.5", alpha=0.15)
        ax.set_title(trial.label, fontsize=8)
        ax.text(
            0.97,
            0.05,
            f"gap {trial.final_gap:+.3g}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
        )
        ax.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[(nrows - 1) * ncols :]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[::ncols]:
        ax.set_ylabel(info.metric)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    figure.suptitle(f"Training vs validation {info.metric}: the gap is overfitting")
    return figure


def save_train_val(view: CampaignView, folder: str | Path) -> list[Path]:
    """Draw ``train_val_gap.png`` into `folder` when `train_val_metric` finds a metric and a
    trial completed; return the paths written (none or one)."""
    metric = train_val_metric(view.history, view.objective)
    if metric is None or view.history is None or not len(completed(view.table)):
        return []
    info = train_val_info(view.history, view.table, metric)
    if not info.trials:
        return []
    path = Path(folder) / TRAIN_VAL_PLOT
    train_val_curves(info).savefig(path, dpi=DPI, bbox_inches="tight")
    return [path]


__all__ = [
    "TrainValInfo",
    "TrialCurves",
    "save_train_val",
    "train_val_curves",
    "train_val_info",
    "train_val_metric",
]
