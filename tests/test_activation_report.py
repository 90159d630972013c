"""`tuner activations`: a finished campaign's trials drawn trained and at initialisation."""

from __future__ import annotations

import pytest

from tests.campaigns import write_campaign
from tuner import cli
from tuner.activation_report import activation_infos
from tuner.api import load_results


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Two trials of a 2-layer MLP on iris (standardised: the kept model has a
    standardisation layer in front of the network)."""
    folder = tmp_path_factory.mktemp("activations")
    path = write_campaign(
        folder,
        strategy="grid",
        max_trials=2,
        epochs=1,
        space={"n_layers": 2, "units": [8, 16], "activation": "tanh"},
    )
    assert cli.main(["search", str(path), "--quiet"]) == 0
    return folder / "results"


@pytest.mark.slow
def test_the_best_trial_is_drawn_at_initialisation_and_trained_on_the_same_bins(finished):
    results = load_results("tiny", finished)
    infos = activation_infos(results, initial=True, samples=20)
    best = results.best_trial_id
    assert [i.title for i in infos] == [
        f"trial {best}, at initialisation",
        f"trial {best}, trained",
    ]
    # the network inside the kept model, not its standardisation layer: two tanh layers
    assert [[layer.activation for layer in i.layers] for i in infos] == [["tanh", "tanh"]] * 2
    units = results.best_hyperparameters["units"]
    assert int(infos[1].layers[0].counts.sum()) == 20 * units
    assert (infos[0].layers[0].edges == infos[1].layers[0].edges).all()


@pytest.mark.slow
def test_cli_writes_the_plots_and_refuses_a_trained_model_that_was_not_kept(finished, capsys):
    argv = ["activations", "tiny", "--results-dir", str(finished)]
    assert cli.main([*argv, "--samples", "10"]) == 0
    assert (finished / "tiny" / "activations.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main([*argv, "--all", "--initial-only", "--samples", "10"]) == 0
    assert (finished / "tiny" / "activations_trials.png").is_file()
    results = load_results("tiny", finished)
    other = next(t for t in ("0", "1") if t != results.best_trial_id)
    capsys.readouterr()
    assert cli.main([*argv, "--trial", other]) == 2
    assert (
        "has no kept model (keep_top = 1); draw it with --initial-only" in capsys.readouterr().err
    )
    assert cli.main([*argv, "--trial", other, "--initial-only", "--samples", "10"]) == 0
    assert (finished / "tiny" / f"activations_trial_{other}.png").is_file()
    assert cli.main(["report", "tiny", "--results-dir", str(finished)]) == 0
    assert "hidden layer&#x27;s activations" in (finished / "tiny" / "report.html").read_text()


def _row(low: float, high: float):
    import numpy as np

    from tuner.plots.activations import ActivationInfo, LayerActivations

    layer = LayerActivations("dense", "relu", np.zeros(4), np.linspace(low, high, 5), 0.0, 0.0, 0.0)
    return ActivationInfo("row", (layer,), 10)


def test_rows_share_bins_when_their_ranges_compare_and_keep_their_own_when_they_do_not():
    from tuner.activation_report import shared_value_range

    assert shared_value_range([_row(0.0, 1.0), _row(-0.5, 4.0)]) == (-0.5, 4.0)
    # An exploding network's activations (0..1e5) beside a sigmoid's: one bar each if shared.
    assert shared_value_range([_row(0.0, 1.0), _row(0.0, 1e5)]) is None
    assert shared_value_range([_row(0.0, 1.0)]) is None


@pytest.mark.slow
def test_a_results_folder_committed_without_its_engine_state_still_loads_and_draws(
    finished, tmp_path
):
    import shutil

    copy = tmp_path / "results" / "tiny"
    shutil.copytree(
        finished / "tiny", copy, ignore=shutil.ignore_patterns(".engine", "models", "*.png")
    )
    original, committed = load_results("tiny", finished), load_results("tiny", copy.parent)
    assert len(committed.records) == len(original.records) == 2
    assert committed.best_trial_id == original.best_trial_id
    assert list(committed.table["score"]) == list(original.table["score"])
    best = committed.records[0] if committed.records[0].score else committed.records[1]
    assert best.history == next(r for r in original.records if r.trial_id == best.trial_id).history
    infos = activation_infos(committed, trial_ids=["0", "1"], trained=False, initial=True)
    # Each row says what sets its trial apart: the grid's two widths.
    units = {r.trial_id: r.hyperparameters["units"] for r in committed.records}
    assert [i.title for i in infos] == [
        f"trial 0, at initialisation\n{units['0']}",
        f"trial 1, at initialisation\n{units['1']}",
    ]
    assert sorted(units.values()) == [8, 16]
    assert not (copy / ".engine").exists()  # reading it back wrote nothing
