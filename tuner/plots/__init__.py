"""Plots drawn with matplotlib's object API (no pyplot state); re-exports only.

`tuner.plots.lr` (the learning-rate finder plot, another module's job) is imported from
its own module, ``from tuner.plots.lr import plot_lr_find``, and not re-exported here so that
this package never depends on it existing.
"""

from tuner.plots.activations import (
    activation_histograms,
    activation_info,
    draw_activation_histograms,
)
from tuner.plots.best_so_far import best_so_far_comparison, draw_best_so_far
from tuner.plots.campaign import (
    hyperband_budget,
    hyperparameter_info,
    hyperparameter_vs_score,
    learning_curves,
    optimization_history,
    optimization_history_info,
    parallel_coordinates,
    save_all,
)
from tuner.plots.train_val import train_val_curves, train_val_info
from tuner.plots.view import CampaignView

__all__ = [
    "CampaignView",
    "optimization_history",
    "optimization_history_info",
    "hyperparameter_vs_score",
    "hyperparameter_info",
    "parallel_coordinates",
    "learning_curves",
    "hyperband_budget",
    "save_all",
    "activation_histograms",
    "activation_info",
    "draw_activation_histograms",
    "train_val_curves",
    "train_val_info",
    "best_so_far_comparison",
    "draw_best_so_far",
]
