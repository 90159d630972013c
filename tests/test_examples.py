"""The scripts in examples/ run as a user would run them."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_own_model_example_runs_end_to_end(tmp_path, monkeypatch, capsys):
    # As `python examples/own_model.py WORKDIR`, in this process (Keras is started already);
    # its command-line step starts a process of its own.
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / "own_model.py"), str(tmp_path)])
    runpy.run_path(str(EXAMPLES / "own_model.py"), run_name="__main__")
    assert "class names: ['setosa', 'versicolor', 'virginica']" in capsys.readouterr().out
    assert (tmp_path / "results" / "iris_python" / "preprocessing.json").is_file()
    assert (tmp_path / "results" / "iris_cli" / "trials.csv").is_file()


@pytest.mark.slow
def test_keras_tuner_guide_port_searches_the_guides_builder(tmp_path, monkeypatch, capsys):
    import pandas as pd

    script = EXAMPLES / "from_keras_tuner.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert "stopped after 3 trials: max_trials = 3 reached" in out
    assert "retrained: " in out
    table = pd.read_csv(tmp_path / "my_dir" / "helloworld" / "trials.csv")
    assert len(table) == 3 and table["lr"].nunique() == 3  # the builder's own space, searched
    # A layer's width is shown only for the trials that have that layer.
    assert (table["units_2"].isna() == (table["num_layers"] < 3)).all()


def test_the_readmes_campaign_commands_leave_the_committed_results_alone():
    # `tuner search experiments/quickstart.toml` (and lr-find, and tuner.search on the file)
    # run from the project root rewrote the committed results/quickstart/; only
    # `make reference` may, with --results-dir results.
    from tuner.campaign import load_campaign

    root = EXAMPLES.parent
    committed = {p.parent.resolve() for p in (root / "results").glob("*/trials.csv")}
    assert committed  # the reference results this guards
    for path in sorted((root / "experiments").glob("*.toml")):
        if path.stem != "quickstart" and not path.stem.startswith("strategies_compare_"):
            continue  # `make experiments` writes (and commits) these in results/<name>/
        folder = (root / load_campaign(path).folder).resolve()
        assert folder not in committed, f"{path.name} writes into committed {folder}"
    makefile = (root / "Makefile").read_text()
    assert "search experiments/quickstart.toml --results-dir results --overwrite" in makefile
