"""Every campaign file in experiments/ parses and validates (a plan is made, nothing trained,
nothing written); the textbook experiments' grids are walked to their end; `make experiments`
names only files that exist."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

from tuner.campaign import Campaign, load_campaign
from tuner.datasets import Dataset, load_campaign_data
from tuner.plan import make_plan

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.toml"))
# Ended by its epoch budget partway through its 25 points, by design (equal budgets).
BUDGETED_GRIDS = {"strategies_compare_grid"}
_DATA: dict[str, Dataset] = {}


def campaign_data(campaign: Campaign) -> Dataset:
    """The campaign's data, loaded once for every file that asks for the same (MNIST: 0.4 s)."""
    key = repr([getattr(campaign, f) for f in DATA_FIELDS])
    if key not in _DATA:
        _DATA[key] = load_campaign_data(campaign)
    return _DATA[key]


DATA_FIELDS = (
    "dataset",
    "target",
    "max_samples",
    "validation_split",
    "test_split",
    "seed",
    "standardize",
    "target_outliers",
)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_validates_without_writing(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # results_dir is relative: anything written would land here
    campaign = load_campaign(path)
    assert campaign.name == path.stem  # results/<file name>/: the README can point at it
    # `threads` is checked against TensorFlow's own setting once TensorFlow has started (an
    # earlier test in this process may have started it): a fresh process is the file's case.
    plan = make_plan(campaign.replace(threads=0), dataset=campaign_data(campaign))
    assert list(tmp_path.iterdir()) == []
    if campaign.strategy == "grid" and campaign.name not in BUDGETED_GRIDS:
        assert campaign.max_trials == plan.configurations, "the grid must be walked to its end"


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_opens_with_a_comment_saying_what_it_is(path):
    header = path.read_text(encoding="utf-8").split("\nname = ")[0]
    assert header.startswith("# ") and len(header) > 60


def test_make_experiments_names_existing_campaigns():
    makefile = (ROOT / "Makefile").read_text()
    seeded = re.search(r"^SEEDED := ((?:.*\\\n)*.*)$", makefile, re.M)
    strategies = re.search(r"^STRATEGIES := (.*)$", makefile, re.M)
    assert seeded is not None and strategies is not None
    names = seeded.group(1).replace("\\", " ").split()
    names += [f"strategies_compare_{s}" for s in strategies.group(1).split()]
    assert len(names) == 13  # 6 seeded comparisons, 7 strategies
    assert [n for n in names if not (ROOT / "experiments" / f"{n}.toml").is_file()] == []


def test_the_perceptron_experiment_separates_iris_and_and_but_not_xor(tmp_path):
    module = runpy.run_path(str(ROOT / "experiments" / "perceptron.py"))
    table = module["run"](tmp_path, seed=0)
    scores = dict(zip(table["dataset"], table["val_accuracy"]))
    assert scores["iris_setosa"] == 1.0 and scores["and"] == 1.0
    assert scores["xor"] < 0.7  # one straight line: about chance
    assert (tmp_path / "perceptron" / "trials.csv").is_file()
    assert "| iris_setosa |" in (tmp_path / "perceptron" / "summary.md").read_text()
