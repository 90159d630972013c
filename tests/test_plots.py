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
    FAILURE_Y,
    best_so_far,
    hyperband_budget,
    hyperparameter_info,
    hyperparameter_vs_score,
    in_trial_order,
    infer_log,
    learning_curves,
    optimization_history,
    optimization_history_info,
    parallel_coordinates,
    save_all,
)
from tuner.plots.view import CampaignView
from tuner.results import history_table, ranked_table, write_results
from tuner.trial import TrialRecord


def synthetic_records(
    n: int = 100, *, seed: int = 0, epochs: int = 20, hyperband: bool = False, fail_every: int = 17
) -> list[TrialRecord]:
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
        hps: dict = {
            "learning_rate": lr,
            "optimizer": optimizer,
            "units": units,
            "dropout": dropout,
        }
        run = epochs
        if hyperband:
            bracket = int(rng.integers(0, 3))
            round_ = int(rng.integers(0, bracket + 1))
            run = max(1, epochs // 3 ** (2 - round_) // (1 if bracket else 1))
            hps.update(
                {
                    "tuner/epochs": run,
                    "tuner/initial_epoch": 0,
                    "tuner/bracket": bracket,
                    "tuner/round": round_,
                }
            )
        if fail_every and i % fail_every == fail_every - 1:
            records.append(
                TrialRecord(
                    f"{i:03d}",
                    "failed",
                    hps,
                    {"loss": [2.3, float("nan")]},
                    epochs_run=2,
                    duration_s=0.4,
                    error="diverged: loss became nan at epoch 2",
                )
            )
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
        history = {
            "loss": loss.tolist(),
            "accuracy": acc.tolist(),
            "val_loss": val_loss.tolist(),
            "val_accuracy": val_acc.tolist(),
        }
        best = int(np.argmax(val_acc))
        records.append(
            TrialRecord(
                f"{i:03d}",
                "completed",
                hps,
                history,
                score=float(val_acc[best]),
                best_epoch=best + 1,
                epochs_run=run,
                duration_s=float(rng.uniform(2, 9)),
                n_params=784 * units + units * 10,
            )
        )
    return records


def write_synthetic(folder: Path, **kwargs) -> list[TrialRecord]:
    records = synthetic_records(**kwargs)
    write_results(
        folder,
        records,
        objective="val_accuracy",
        direction="max",
        settings={"name": folder.name, "strategy": "random", "objective": "val_accuracy"},
    )
    return records


SYNTHETIC_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"},
    "optimizer": ["adam", "sgd", "rmsprop"],
    "units": {"min": 16, "max": 256, "step": 16},
    "dropout": {"min": 0.0, "max": 0.5},
}


def synthetic_view(**kwargs) -> CampaignView:
    """The `synthetic_records` campaign as the plots receive it, without touching a file."""
    records = synthetic_records(**kwargs)
    return CampaignView(
        "synthetic",
        ranked_table(records, objective="val_accuracy", direction="max"),
        history_table(records),
        "val_accuracy",
        "max",
        SYNTHETIC_SPACE,
    )


@pytest.fixture
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    records = [
        TrialRecord(
            "1",
            "completed",
            {"lr": 1e-3, "opt": "adam", "units": 32},
            {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7]},
            score=0.6,
            best_epoch=2,
            epochs_run=3,
        ),
        TrialRecord("2", "failed", {"lr": 1e-1, "opt": "sgd", "units": 64}, error="diverged"),
        TrialRecord(
            "10",
            "completed",
            {"lr": 1e-4, "opt": "sgd", "units": 16},
            {"loss": [1.0, 0.9], "val_loss": [1.0, 0.95]},
            score=0.95,
            best_epoch=2,
            epochs_run=2,
        ),
        TrialRecord(
            "3",
            "completed",
            {"lr": 3e-2, "opt": "adam", "units": 64},
            {"loss": [0.9, 0.3, 0.2], "val_loss": [0.8, 0.4, 0.3]},
            score=0.3,
            best_epoch=3,
            epochs_run=3,
        ),
    ]
    table = ranked_table(records, objective="val_loss", direction="min")
    return table, history_table(records)


def test_trial_order_is_natural_and_best_so_far_follows_the_direction(small):
    table, _ = small
    assert list(in_trial_order(table)["trial_id"]) == ["1", "2", "3", "10"]
    assert list(best_so_far([0.6, np.nan, 0.3, 0.95], "min")) == [0.6, 0.6, 0.3, 0.3]
    assert list(best_so_far([0.6, np.nan, 0.3, 0.95], "max")) == [0.6, 0.6, 0.6, 0.95]
    assert np.isnan(best_so_far([np.nan, 0.5], "min")[0])


def test_the_direction_is_the_campaigns_never_read_off_the_ranks():
    # A minimised objective whose one scored trial ranks first: the ranks cannot tell "min"
    # from "max" (a guess from them said "max"), so the caller must say it.
    records = [
        TrialRecord("1", "failed", {"lr": 1e-2}, error="boom"),
        TrialRecord("2", "completed", {"lr": 1e-3}, {"loss": [0.4]}, score=0.4, best_epoch=1),
    ]
    table = ranked_table(records, objective="distance", direction="min")
    assert optimization_history(table, objective="distance", direction="min").get_ylabel() == (
        "distance (min)"
    )
    with pytest.raises(TypeError, match="direction"):
        optimization_history_info(table)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="direction must be 'min' or 'max', but got 'up'"):
        optimization_history(table, direction="up")


def test_infer_log_needs_positive_values_spanning_a_factor_of_100():
    assert infer_log(pd.Series([1e-4, 5e-3, 1e-2]))
    assert not infer_log(pd.Series([1e-3, 5e-3, 9e-2]))
    assert not infer_log(pd.Series([0.0, 1.0, 1000.0]))


def test_optimization_history_draws_scores_best_so_far_and_failures(small):
    table, _ = small
    ax = optimization_history(table, direction="min")
    points, failed = ax.collections
    # Trials 1, 2 (failed), 3, 10 sit at their ids; 1, 3 and 10 carry scores.
    assert points.get_offsets().tolist() == [[1, 0.6], [3, 0.3], [10, 0.95]]
    assert len(failed.get_offsets()) == 1 and failed.get_offsets()[0][0] == 2
    (step,) = ax.lines
    assert list(step.get_xdata()) == [1, 2, 3, 10]
    assert list(step.get_ydata()) == [0.6, 0.6, 0.3, 0.3]
    assert "1 failed" in ax.get_title()


def test_hyperparameter_vs_score_numeric_log_and_categorical(small):
    table, _ = small
    ax = hyperparameter_vs_score(table, "lr", direction="min")
    assert ax.get_xscale() == "log"
    points, best, failed = ax.collections
    assert sorted(points.get_offsets()[:, 0]) == [1e-4, 1e-3, 3e-2]
    assert failed.get_offsets()[:, 0].tolist() == [1e-1]  # trial 2, marked where it was tried
    assert best.get_offsets().tolist() == [[3e-2, 0.3]]  # rank 1 under direction "min"
    assert hyperparameter_vs_score(table, "lr", log=False, direction="min").get_xscale() == "linear"
    ax = hyperparameter_vs_score(table, "opt", direction="min")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["adam", "sgd"]
    x = ax.collections[0].get_offsets()[:, 0]
    assert np.all(np.abs(x - np.round(x)) < 0.2)
    with pytest.raises(ConfigError, match="'nope'"):
        hyperparameter_vs_score(table, "nope", direction="min")


def test_parallel_coordinates_draws_top_trials_coloured_by_score(small):
    table, _ = small
    fig = Figure()
    ax = parallel_coordinates(
        table, ["lr", "opt", "units"], fig.add_subplot(), top=2, direction="min"
    )
    (lines,) = [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_array() is not None
    ]
    segments = lines.get_segments()
    assert len(segments) == 2
    # Best (score 0.3, lr 3e-2, adam, 64 units) is drawn last; lr on a log axis over 1e-4..3e-2.
    best = segments[-1]
    assert best[:, 1][1:3].tolist() == [0.0, 1.0]
    assert best[0, 1] == pytest.approx(1.0)
    assert sorted(lines.get_array().tolist()) == [0.3, 0.6]
    assert len(fig.axes) == 2  # the colorbar
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "lr\n(log)",
        "opt",
        "units",
        "score (min)",
    ]


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
    table = ranked_table(
        synthetic_records(12, hyperband=True, fail_every=0),
        objective="val_accuracy",
        direction="max",
    )
    ax = hyperband_budget(table)
    ordered = in_trial_order(table)
    assert [p.get_height() for p in ax.patches] == list(ordered["epochs_run"])
    colours = {}
    for patch, bracket in zip(ax.patches, ordered["tuner/bracket"]):
        colours.setdefault(bracket, set()).add(patch.get_facecolor())
    assert all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(colours)


@pytest.fixture
def diverging() -> pd.DataFrame:
    """KerasTuner-style ids; the two largest learning rates diverged, one small one crashed."""
    rows = [
        ("0", 1e-3, "adam", 0.80, None),
        ("1", 2.0, "sgd", None, "diverged: loss became nan at epoch 1"),
        ("2", 3e-3, "adam", 0.90, None),
        ("3", 5.0, "sgd", 0.10, "diverged: loss became inf at epoch 3"),
        ("4", 2e-3, "sgd", None, "ValueError: out of memory"),
        ("6", 4e-3, "adam", 0.85, None),
    ]
    records = [
        TrialRecord(
            i,
            "failed" if error else "completed",
            {"lr": lr, "opt": opt},
            {"loss": [1.0]},
            score=score,
            best_epoch=1 if score is not None else None,
            epochs_run=1,
            error=error,
        )
        for i, lr, opt, score, error in rows
    ]
    return ranked_table(records, objective="val_accuracy", direction="max")


def test_every_score_axis_names_the_objective(small):
    table, history = small
    scored = {"objective": "val_loss", "direction": "min"}
    assert optimization_history(table, **scored).get_ylabel() == "val_loss (min)"
    assert hyperparameter_vs_score(table, "lr", **scored).get_ylabel() == "val_loss (min)"
    fig = Figure()
    ax = parallel_coordinates(table, ["lr", "opt"], fig.add_subplot(), **scored)
    assert ax.get_xticklabels()[-1].get_text() == "val_loss (min)"
    assert fig.axes[1].get_ylabel() == "val_loss (min)"  # the colorbar
    labels = learning_curves(history, table, top=1, objective="val_loss").get_legend().get_texts()
    assert labels[0].get_text() == "trial 3 (val_loss 0.3)"


def test_optimization_history_places_each_trial_at_its_id(diverging):
    info = optimization_history_info(diverging, direction="max")
    assert info.trial_ids == ["0", "1", "2", "3", "4", "6"]
    assert info.x.tolist() == [0, 1, 2, 3, 4, 6]  # no trial 5: x = the id, not the position
    assert np.isnan(info.scores[[1, 3, 4]]).all()  # trial 3 diverged after scoring: not a result
    assert info.best_so_far[-1] == 0.9
    ax = optimization_history(diverging, direction="max")
    assert ax.collections[0].get_offsets().tolist() == [[0, 0.8], [2, 0.9], [6, 0.85]]
    assert ax.get_xlim() == (-0.5, 6.5)
    assert [p.get_x() + p.get_width() / 2 for p in hyperband_budget(diverging).patches] == [
        0,
        1,
        2,
        3,
        4,
        6,
    ]


def test_failed_and_diverged_trials_are_marked_at_the_values_tried(diverging):
    info = hyperparameter_info(diverging, "lr")
    assert sorted(info.x.tolist()) == [1e-3, 3e-3, 4e-3]
    assert {k: sorted(v.tolist()) for k, v in info.failures.items()} == {
        "diverged": [2.0, 5.0],
        "failed": [2e-3],
    }
    assert optimization_history_info(diverging, direction="max").failures.keys() == {
        "diverged",
        "failed",
    }
    for ax in (
        hyperparameter_vs_score(diverging, "lr", direction="max"),
        optimization_history(diverging, direction="max"),
    ):
        marks = {
            c.get_label(): c for c in ax.collections if c.get_label() in ("failed", "diverged")
        }
        assert marks.keys() == {"failed", "diverged"}
        assert set(marks["diverged"].get_offsets()[:, 1]) == {FAILURE_Y}
        assert (
            marks["diverged"].get_offset_transform() == ax.get_xaxis_transform()
        )  # pinned to the bottom edge
        assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"failed", "diverged"}
    ax = hyperparameter_vs_score(diverging, "lr", direction="max")
    diverged = next(c for c in ax.collections if c.get_label() == "diverged")
    assert sorted(diverged.get_offsets()[:, 0].tolist()) == [2.0, 5.0]
    assert ax.get_xlim()[1] > 5.0  # the failures' values are on the axis, not clipped off
    ax = hyperparameter_vs_score(diverging, "opt", direction="max")
    failed = next(c for c in ax.collections if c.get_label() == "failed")
    assert abs(failed.get_offsets()[0, 0] - 1) < 0.2  # trial 4 tried sgd, the second category


def test_range_axes_span_the_searched_space_not_the_values_seen(small):
    table, _ = small  # lr tried 1e-4..1e-1 (linear would do), units 16..64
    space = {
        "lr": {"min": 1e-6, "max": 10.0, "sampling": "log"},
        "units": {"min": 8, "max": 512, "step": 8},
    }
    ax = hyperparameter_vs_score(table, "lr", space=space, direction="min")
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "log" and low <= 1e-6 and high >= 10.0 and high < 20.0
    ax = hyperparameter_vs_score(table, "units", space=space, direction="min")
    low, high = ax.get_xlim()
    assert ax.get_xscale() == "linear" and low <= 8 and 512 <= high < 540
    unseen = hyperparameter_vs_score(table, "units", direction="min").get_xlim()
    assert unseen[0] > 8 and unseen[1] < 100  # without [space]: the values seen
    linear = {
        "lr": {"min": 1e-4, "max": 1e-1}
    }  # sampling linear: no log axis although values span 1000x
    assert (
        hyperparameter_vs_score(table, "lr", space=linear, direction="min").get_xscale() == "linear"
    )
    fig = Figure()
    ax = parallel_coordinates(
        table, ["lr", "units"], fig.add_subplot(), space=space, direction="min"
    )
    (lines,) = [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_array() is not None
    ]
    best = lines.get_segments()[-1]  # lr 3e-2, 64 units
    assert best[0, 1] == pytest.approx((np.log10(3e-2) + 6) / 7)
    assert best[1, 1] == pytest.approx((64 - 8) / 504)


def test_every_choice_is_on_the_axis_even_one_never_tried(small):
    table, _ = small
    space = {"opt": ["adam", "sgd", "rmsprop"], "units": [64, 16, 32, 128]}
    ax = hyperparameter_vs_score(table, "opt", space=space, direction="min")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["adam", "sgd", "rmsprop"]
    assert ax.get_xlim() == (-0.6, 2.6)
    # A numeric choice was jittered categories 0..3 under ticks 16, 32, 64, 128: evenly spaced,
    # as on a log axis, where the axis was not one. Now a numeric axis, the choices its ticks.
    ax = hyperparameter_vs_score(table, "units", space=space, direction="min")
    assert ax.get_xscale() == "linear"  # 128 / 16 = 8: no more than a factor of 10
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16", "32", "64", "128"]
    assert ax.get_xticks().tolist() == [16, 32, 64, 128]
    x = ax.collections[0].get_offsets()[:, 0]  # best first: 64, 32, 16 units, not jittered
    assert x.tolist() == [64, 32, 16]
    wide = {"units": [8, 16, 32, 64, 128, 256]}
    ax = hyperparameter_vs_score(table, "units", space=wide, direction="min")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "units (log scale)"
    assert ax.get_xticks().tolist() == [8, 16, 32, 64, 128, 256]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16", "32", "64", "128", "256"]
    fig = Figure()
    ax = parallel_coordinates(table, ["opt"], fig.add_subplot(), space=space, direction="min")
    assert [t.get_text() for t in ax.texts][:3] == ["adam", "sgd", "rmsprop"]


def test_save_all_writes_every_applicable_plot(tmp_path):
    paths = save_all(synthetic_view(n=30, hyperband=True), tmp_path)
    assert [p.name for p in paths] == [
        "optimization_history.png",
        "hyperparameters.png",
        "parallel_coordinates.png",
        "learning_curves.png",
        "budget.png",
    ]
    assert all(p.stat().st_size > 10_000 and p.read_bytes()[:4] == b"\x89PNG" for p in paths)
