"""strategy = "auto": the choice by the space and the budget, the oracle it builds, and the
campaign summary's note of what it chose."""

import keras_tuner as kt
import pytest

from tests.campaigns import write_campaign
from tuner import cli
from tuner.strategies import TPEOracle, create_oracle
from tuner.strategies.auto import choose


def numeric():
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Int("units", 16, 128, step=16)
    hp.Fixed("epochs", 3)
    return hp


def with_choice():
    hp = numeric()
    hp.Choice("optimizer", ["adam", "sgd"])
    return hp


def with_conditional():
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.1, 0.5)
    return hp


def only_fixed():
    hp = kt.HyperParameters()
    hp.Fixed("units", 32)
    return hp


@pytest.mark.parametrize(
    "space, max_trials, chosen",
    [
        (numeric, 50, "tpe"),
        (numeric, 500, "tpe"),
        (with_choice, 50, "tpe"),
        (with_conditional, 50, "tpe"),
        (only_fixed, 50, "random"),
    ],
)
def test_auto_chooses_by_the_space_and_the_budget(space, max_trials, chosen):
    assert choose(space(), max_trials)[0] == chosen


@pytest.mark.parametrize(
    "space, kind, name",
    [(with_choice, TPEOracle, "tpe"), (only_fixed, kt.oracles.RandomSearchOracle, "random")],
)
def test_auto_builds_the_chosen_strategy_and_says_so(space, kind, name):
    oracle = create_oracle(
        "auto", objective="score", direction="min", hyperparameters=space(), max_trials=20
    )
    assert type(oracle) is kind
    assert oracle.chosen_strategy == name


def test_the_summary_notes_what_auto_chose(tmp_path):
    path = write_campaign(tmp_path, strategy="auto", max_trials=2, epochs=1)
    assert cli.main(["search", str(path), "--quiet"]) == 0
    summary = (tmp_path / "results" / "tiny" / "summary.md").read_text()
    assert "strategy auto chose tpe: all numeric: tpe measured ahead of the GP" in summary
