"""Campaign plots: each function draws the expected artists from known data (no image comparison)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from tuner.errors import ConfigError
from tuner.plots.campaign import (
    best_so_far,
    hyperband_budget,
    hyperparameter_vs_score,
    in_trial_order,
    infer_direction,
    infer_log,
    learning_curves,
    optimization_history,
    parallel_coordinates,
    save_all,
)
from tuner.results import history_table, ranked_table, write_results
from tuner.trial import TrialRecord


def synthetic_records(n: int = 100, *, seed: int = 0, epochs: int = 20, hyperband: bool = False,
                      fail_every: int = 17) -> list[TrialRecord]:
    """A plausible campaign: log-uniform learning rate, categorical optimizer, int units, dropout.

    Validation accuracy peaks near lr=3e-3 for adam/rmsprop and lr=3e-2 for sgd, grows a little
    with units and is indifferent to dropout; every `fail_every`-th trial diverges.
    """
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        optimizer = ["adam", "sgd", "rmsprop"][int(rng.integers(3))]
        lr = float(10 ** rng.uniform(-4, -1))
        units = int(rng.integers(1, 17) * 16)
        dropout = round(float(rng.uniform(0, 0.5)), 2)
        hps: dict = {"learning_rate": lr, "optimizer": optimizer, "units": units, "dropout": dropout}
        run = epochs
        if hyperband:
            bracket = int(rng.integers(0, 3))
            round_ = int(rng.integers(0, bracket + 1))
            run = max(1, epochs // 3 ** (2 - round_) // (1 if bracket else 1))
            hps.update({"tuner/epochs": run, "tuner/initial_epoch": 0, "tuner/bracket": bracket, "tuner/round": round_})
        if fail_every and i % fail_every == fail_every - 1:
            records.append(TrialRecord(f"{i:03d}", "failed", hps, {"loss": [2.3, float("nan")]},
                                       epochs_run=2, duration_s=0.4, error="diverged: loss became nan at epoch 2"))
            continue
        peak = -2.5 if optimizer != "sgd" else -1.5
        quality = math.exp(-((math.log10(lr) - peak) ** 2) / 0.8) * (0.8 + 0.2 * units / 256)
        final = 0.3 + 0.65 * quality + rng.normal(0, 0.01)
        t = np.arange(1, run + 1)
        speed = 0.15 + 2 * quality / math.sqrt(run)
        val_acc = 0.1 + (final - 0.1) * (1 - np.exp(-speed * t)) + rng.normal(0, 0.008, run)
        acc = val_acc + 0.02 * t / run
        loss = 2.3 * np.exp(-speed * t * (0.5 + quality)) + 0.02
        val_loss = loss * 1.1 + 0.01 * t / run
        history = {"loss": loss.tolist(), "accuracy": acc.tolist(), "val_loss": val_loss.tolist(),
                   "val_accuracy": val_acc.tolist()}
        best = int(np.argmax(val_acc))
        records.append(TrialRecord(f"{i:03d}", "completed", hps, history, score=float(val_acc[best]),
                                   best_epoch=best + 1, epochs_run=run, duration_s=float(rng.uniform(2, 9)),
                                   n_params=784 * units + units * 10))
    return records


def write_synthetic(folder: Path, **kwargs) -> list[TrialRecord]:
    records = synthetic_records(**kwargs)
    write_results(folder, records, objective="val_accuracy", direction="max",
                  settings={"name": folder.name, "strategy": "random", "objective": "val_accuracy"})
    return records


@pytest.fixture
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    records = [
        TrialRecord("1", "completed", {"lr": 1e-3, "opt": "adam", "units": 32},
                    {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7]}, score=0.6, best_epoch=2, epochs_run=3),
        TrialRecord("2", "failed", {"lr": 1e-1, "opt": "sgd", "units": 64}, error="diverged"),
        TrialRecord("10", "completed", {"lr": 1e-4, "opt": "sgd", "units": 16},
                    {"loss": [1.0, 0.9], "val_loss": [1.0, 0.95]}, score=0.95, best_epoch=2, epochs_run=2),
        TrialRecord("3", "completed", {"lr": 3e-2, "opt": "adam", "units": 64},
                    {"loss": [0.9, 0.3, 0.2], "val_loss": [0.8, 0.4, 0.3]}, score=0.3, best_epoch=3, epochs_run=3),
    ]
    table = ranked_table(records, objective="val_loss", direction="min")
    return table, history_table(records)


def test_trial_order_is_natural_and_direction_is_read_off_the_ranks(small):
    table, _ = small
    assert list(in_trial_order(table)["trial_id"]) == ["1", "2", "3", "10"]
    assert infer_direction(table) == "min"
    assert list(best_so_far([0.6, np.nan, 0.3, 0.95], "min")) == [0.6, 0.6, 0.3, 0.3]
    assert list(best_so_far([0.6, np.nan, 0.3, 0.95], "max")) == [0.6, 0.6, 0.6, 0.95]


def test_infer_log_needs_positive_values_spanning_a_factor_of_100():
    assert infer_log(pd.Series([1e-4, 5e-3, 1e-2]))
    assert not infer_log(pd.Series([1e-3, 5e-3, 9e-2]))
    assert not infer_log(pd.Series([0.0, 1.0, 1000.0]))


def test_optimization_history_draws_scores_best_so_far_and_failures(small):
    table, _ = small
    ax = optimization_history(table)
    points, failed = ax.collections
    # Trials in order 1, 2 (failed), 3, 10 -> positions 1, 3, 4 carry scores.
    assert points.get_offsets().tolist() == [[1, 0.6], [3, 0.3], [4, 0.95]]
    assert len(failed.get_offsets()) == 1 and failed.get_offsets()[0][0] == 2
    (step,) = ax.lines
    assert list(step.get_ydata()) == [0.6, 0.6, 0.3, 0.3]
    assert "1 failed" in ax.get_title()


def test_hyperparameter_vs_score_numeric_log_and_categorical(small):
    table, _ = small
    ax = hyperparameter_vs_score(table, "lr")
    assert ax.get_xscale() == "log"
    points, best = ax.collections
    assert sorted(points.get_offsets()[:, 0]) == [1e-4, 1e-3, 3e-2]
    assert best.get_offsets().tolist() == [[3e-2, 0.3]]  # rank 1 under direction "min"
    assert hyperparameter_vs_score(table, "lr", log=False).get_xscale() == "linear"
    ax = hyperparameter_vs_score(table, "opt")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["adam", "sgd"]
    x = ax.collections[0].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x)) < 0.2)
    with pytest.raises(ConfigError, match="'nope'"):
        hyperparameter_vs_score(table, "nope")


def test_parallel_coordinates_draws_top_trials_coloured_by_score(small):
    table, _ = small
    fig = Figure()
    ax = parallel_coordinates(table, ["lr", "opt", "units"], fig.add_subplot(), top=2)
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_array() is not None]
    segments = lines.get_segments()
    assert len(segments) == 2
    # Best (score 0.3, lr 3e-2, adam, 64 units) is drawn last; lr on a log axis over 1e-4..3e-2.
    best = segments[-1]
    assert best[:, 1][1:3].tolist() == [0.0, 1.0]
    assert best[0, 1] == pytest.approx(1.0)
    assert sorted(lines.get_array().tolist()) == [0.3, 0.6]
    assert len(fig.axes) == 2  # the colorbar
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lr\n(log)", "opt", "units", "score"]


def test_learning_curves_train_solid_val_dashed_per_top_trial(small):
    table, history = small
    ax = learning_curves(history, table, top=2)
    styles = [(line.get_linestyle(), len(line.get_xdata())) for line in ax.lines]
    assert styles == [("-", 3), ("--", 3), ("-", 3), ("--", 3)]
    assert ax.lines[0].get_ydata().tolist() == [0.9, 0.3, 0.2]
    assert ax.collections[0].get_offsets().tolist() == [[3, 0.3], [2, 0.6]]
    with pytest.raises(ConfigError, match="'accuracy'"):
        learning_curves(history, table, metric="accuracy")


def test_hyperband_budget_one_bar_per_trial_coloured_by_bracket():
    table = ranked_table(synthetic_records(12, hyperband=True, fail_every=0), objective="val_accuracy", direction="max")
    ax = hyperband_budget(table)
    ordered = in_trial_order(table)
    assert [p.get_height() for p in ax.patches] == list(ordered["epochs_run"])
    colours = {}
    for patch, bracket in zip(ax.patches, ordered["tuner/bracket"]):
        colours.setdefault(bracket, set()).add(patch.get_facecolor())
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(colours)


def test_save_all_writes_every_applicable_plot(tmp_path):
    write_synthetic(tmp_path / "camp", n=30, hyperband=True)
    paths = save_all(tmp_path / "camp")
    assert [p.name for p in paths] == ["optimization_history.png", "hyperparameters.png",
                                       "parallel_coordinates.png", "learning_curves.png", "budget.png"]
    assert all(p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)
