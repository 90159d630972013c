"""The Pareto front of a campaign of several objectives: every scored trial placed by its first
two objectives, the Pareto-optimal ones highlighted and joined in the order of the first.

As the other plots: `pareto_info` computes what is drawn from the ranked table, then
`pareto_front_plot` draws it on an Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tuner.errors import ConfigError
from tuner.plots.view import score_label
from tuner.results import METRIC_PREFIX, PARETO
from tuner.trial import SCORED

FRONT_COLOR = "tab:red"
OTHER_COLOR = "0.6"


@dataclass(frozen=True)
class ParetoInfo:
    """The first two objectives' values of the scored trials (x, y), which are on the front,
    and the axes' labels."""

    x: np.ndarray
    y: np.ndarray
    on_front: np.ndarray
    trial_ids: list[str]
    x_label: str
    y_label: str


def objective_column(table: pd.DataFrame, name: str, primary: str) -> str:
    """The trials table's column of objective `name`: ``score`` for the first, its own name
    (or ``metric_<name>`` where a hyperparameter has that name) for the others."""
    if name == primary:
        return "score"
    for column in (name, METRIC_PREFIX + name):
        if column in table.columns:
            return column
    raise ConfigError(f"the trials table has no column for objective {name!r}.")


def pareto_info(table: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> ParetoInfo:
    """What `pareto_front_plot` draws: the scored trials by the first two `objectives`
    (name, direction), those the table's ``pareto`` column marks on the front."""
    if len(objectives) < 2 or PARETO not in table.columns:
        raise ConfigError("a Pareto front needs a campaign of two or more objectives.")
    (first, first_dir), (second, second_dir) = objectives[0], objectives[1]
    done = table[table["status"].isin(SCORED)]
    x = pd.to_numeric(done["score"], errors="coerce").to_numpy(float)
    y_column = objective_column(done, second, first)
    y = pd.to_numeric(done[y_column], errors="coerce").to_numpy(float)
    return ParetoInfo(
        x=x,
        y=y,
        on_front=done[PARETO].astype(bool).to_numpy(),
        trial_ids=[str(t) for t in done["trial_id"]],
        x_label=score_label(first, first_dir),
        y_label=score_label(second, second_dir),
    )


def pareto_front_plot(info: ParetoInfo, ax: Axes | None = None) -> Axes:
    """Draw the trials as points, the front's trials larger and in red, joined (dashed) in
    the order of the first objective, each labelled with its trial id."""
    if ax is None:
        ax = Figure(figsize=(6.5, 4.5), layout="constrained").add_subplot()
    others = ~info.on_front
    ax.scatter(info.x[others], info.y[others], color=OTHER_COLOR, s=22, label="dominated")
    order = np.argsort(info.x[info.on_front], kind="stable")
    fx, fy = info.x[info.on_front][order], info.y[info.on_front][order]
    ax.plot(fx, fy, color=FRONT_COLOR, linewidth=1, linestyle="--", alpha=0.6)
    ax.scatter(fx, fy, color=FRONT_COLOR, s=40, zorder=3, label="Pareto front")
    front_ids = [t for t, on in zip(info.trial_ids, info.on_front) if on]
    for x, y, trial_id in zip(fx, fy, [front_ids[i] for i in order]):
        ax.annotate(trial_id, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(info.x_label)
    ax.set_ylabel(info.y_label)
    ax.set_title("Pareto front of the first two objectives")
    ax.legend(fontsize=9, frameon=False)
    return ax


__all__ = ["ParetoInfo", "pareto_info", "pareto_front_plot", "objective_column"]
