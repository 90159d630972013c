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
