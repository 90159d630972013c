"""The train-vs-validation gap plot: which metric, which trials, what is drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tests.test_plots import synthetic_view
from tuner.errors import ConfigError
from tuner.plots.train_val import (
    save_train_val,
    train_val_curves,
    train_val_info,
    train_val_metric,
)
from tuner.plots.view import CampaignView
from tuner.results import history_table, ranked_table
from tuner.trial import TrialRecord


def grid_records() -> list[TrialRecord]:
    """A 2-trial grid over dropout: without it training accuracy races ahead of validation."""
    return [
        TrialRecord(
            "0",
            "completed",
            {"dropout": 0.0, "units": 100},
            {
                "loss": [1.0, 0.5, 0.1],
                "accuracy": [0.6, 0.9, 1.0],
                "val_loss": [1.1, 0.9, 1.0],
                "val_accuracy": [0.55, 0.7, 0.72],
            },
            score=0.72,
            best_epoch=3,
            epochs_run=3,
        ),
        TrialRecord(
            "1",
            "completed",
            {"dropout": 0.2, "units": 100},
            {
                "loss": [1.0, 0.7, 0.5],
                "accuracy": [0.5, 0.75, 0.8],
                "val_loss": [1.0, 0.8, 0.7],
                "val_accuracy": [0.5, 0.72, 0.78],
            },
            score=0.78,
            best_epoch=3,
            epochs_run=3,
        ),
    ]


def grid_view() -> CampaignView:
    records = grid_records()
    table = ranked_table(records, objective="val_accuracy", direction="max")
    return CampaignView("grid", table, history_table(records), "val_accuracy", "max")


def test_the_metric_is_the_objectives_unless_it_is_a_loss_then_accuracy():
    history = pd.DataFrame(
        columns=["trial_id", "epoch", "loss", "mae", "val_loss", "val_mae", "accuracy"]
    )
    assert train_val_metric(history, "val_mae") == "mae"
    # val_loss: the learning curves already show it; accuracy is logged without val_accuracy
    assert train_val_metric(history, "val_loss") is None
    assert train_val_metric(history.assign(val_accuracy=[]), "val_loss") == "accuracy"
    assert train_val_metric(None, "val_accuracy") is None


def test_info_holds_every_trial_of_a_small_grid_best_first_with_its_gap():
    view = grid_view()
    info = train_val_info(view.history, view.table, "val_accuracy")
    assert info.metric == "accuracy"
    assert [t.trial_id for t in info.trials] == ["1", "0"]
    assert info.trials[1].label == "trial 0: dropout=0"  # units did not vary: not named
    assert info.trials[1].final_gap == pytest.approx(1.0 - 0.72)
    assert info.trials[0].final_gap == pytest.approx(0.8 - 0.78)
    np.testing.assert_array_equal(info.trials[1].epochs, [1, 2, 3])


def test_info_keeps_the_top_nine_of_a_large_campaign():
    view = synthetic_view(n=30)  # 29 completed, one failed
    info = train_val_info(view.history, view.table, "accuracy")
    assert [t.trial_id for t in info.trials] == list(view.table["trial_id"].head(9))


def test_info_names_a_metric_the_history_lacks():
    view = grid_view()
    with pytest.raises(ConfigError, match="no 'mse' to draw; logged metrics: loss, accuracy"):
        train_val_info(view.history, view.table, "mse")


def test_curves_draw_one_panel_per_trial_with_both_lines_and_the_gap():
    view = grid_view()
    figure = train_val_curves(train_val_info(view.history, view.table, "accuracy"))
    assert isinstance(figure, Figure)
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(visible) == 2
    lines = visible[1].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), [0.6, 0.9, 1.0])  # training
    np.testing.assert_allclose(lines[1].get_ydata(), [0.55, 0.7, 0.72])  # validation
    assert any(t.get_text() == "gap +0.28" for t in visible[1].texts)


def test_save_writes_the_png_only_when_a_metric_has_both_curves(tmp_path):
    paths = save_train_val(grid_view(), tmp_path)
    assert [p.name for p in paths] == ["train_val_gap.png"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    losses_only = grid_view()
    history = losses_only.history.drop(columns=["accuracy", "val_accuracy"])
    view = CampaignView("grid", losses_only.table, history, "val_loss", "min")
    assert save_train_val(view, tmp_path / "none") == []
