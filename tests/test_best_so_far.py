"""Strategies compared over seeds: best so far against trials and epochs, mean and spread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuner import cli
from tuner.errors import ConfigError
from tuner.plots.best_so_far import (
    best_so_far_comparison,
    draw_best_so_far,
    run_curve,
    summary_table,
)
from tuner.results import ranked_table, write_results
from tuner.trial import TrialRecord


def records(scores: list[float | None], epochs: list[int]) -> list[TrialRecord]:
    """Trials run in this order ("1", "2", ...); None is a failed trial."""
    return [
        TrialRecord(
            str(i + 1),
            "completed" if score is not None else "failed",
            {"lr": 0.1 * (i + 1)},
            {"val_accuracy": [score if score is not None else float("nan")] * n},
            score=score,
            best_epoch=1 if score is not None else None,
            epochs_run=n,
            error=None if score is not None else "diverged: loss became nan",
        )
        for i, (score, n) in enumerate(zip(scores, epochs))
    ]


def table(scores: list[float | None], epochs: list[int]) -> pd.DataFrame:
    return ranked_table(records(scores, epochs), objective="val_accuracy", direction="max")


def test_a_run_is_read_in_the_order_its_trials_ran_failed_ones_spending_epochs():
    curve = run_curve(table([0.5, None, 0.7, 0.6], [10, 3, 10, 10]), "max")
    np.testing.assert_array_equal(curve.trials, [1, 2, 3, 4])
    np.testing.assert_array_equal(curve.epochs, [10, 13, 23, 33])
    np.testing.assert_array_equal(curve.best, [0.5, 0.5, 0.7, 0.7])
    assert run_curve(table([0.5, 0.3], [1, 1]), "min").best.tolist() == [0.5, 0.3]


def test_mean_and_band_over_seeds_a_shorter_run_keeping_its_last_best():
    info = best_so_far_comparison(
        {
            "random": [table([0.5, 0.7], [10, 10]), table([0.6, 0.6, 0.9], [10, 10, 10])],
            "hyperband": [table([0.4, 0.8], [1, 3])],
        },
        direction="max",
        objective="val_accuracy",
    )
    random, hyperband = info.groups
    np.testing.assert_array_equal(random.trial_grid, [1, 2, 3])
    np.testing.assert_allclose(random.by_trials[0], [0.55, 0.65, 0.8])  # 0.7 held at trial 3
    np.testing.assert_allclose(random.by_trials[1], [0.5, 0.6, 0.7])
    np.testing.assert_allclose(random.by_trials[2], [0.6, 0.7, 0.9])
    np.testing.assert_array_equal(hyperband.epoch_grid, [1, 4])
    np.testing.assert_allclose(hyperband.by_epochs[0], [0.4, 0.8])
    summary = summary_table(info).set_index("group")
    assert summary.loc["random", "best_mean"] == pytest.approx(0.8)
    assert summary.loc["random", "best_std"] == pytest.approx(0.1)
    assert summary.loc["random", "trials_mean"] == 2.5
    assert summary.loc["hyperband", "epochs_mean"] == 4
    figure = draw_best_so_far(info)
    assert [ax.get_xlabel() for ax in figure.axes] == ["trials used", "epochs trained (all trials)"]
    assert len(figure.axes[1].get_legend().get_texts()) == 2


def test_an_empty_group_is_refused():
    with pytest.raises(ConfigError, match="each with at least one run"):
        best_so_far_comparison({"random": []}, direction="max")


def test_cli_groups_runs_by_campaign_name_and_writes_the_plot_and_summary(tmp_path, capsys):
    for seed, scores in enumerate(([0.5, 0.7], [0.6, 0.8])):
        folder = tmp_path / f"seed{seed}" / "camp"
        folder.mkdir(parents=True)
        settings = {"name": "camp", "objective": "val_accuracy", "direction": "max"}
        write_results(
            folder,
            records(scores, [2, 2]),
            objective="val_accuracy",
            direction="max",
            settings=settings,
        )
        (folder / "campaign.toml").write_text(
            'name = "camp"\nobjective = "val_accuracy"\ndirection = "max"\n'
        )
    plot = tmp_path / "out" / "best.png"
    folders = [str(tmp_path / f"seed{s}" / "camp") for s in (0, 1)]
    assert cli.main(["results", "compare", *folders, "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    summary = pd.read_csv(plot.with_suffix(".csv"))
    assert summary.to_dict("records")[0]["runs"] == 2
    assert summary.to_dict("records")[0]["best_mean"] == pytest.approx(0.75)
    assert f"wrote {plot}" in capsys.readouterr().err
    assert cli.main(["results", folders[0], "--plot", str(plot)]) == 2
    assert cli.main(["results", "compare", *folders, "--plot", str(tmp_path / "a.svg")]) == 2
