"""strategy = "auto": the choice by the space and the budget, the oracle it builds, and the
campaign summary's note of what it chose."""

import keras_tuner as kt
import pytest

from tests.campaigns import write_campaign
from tuner import cli
from tuner.errors import ConfigError
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import SkoptOracle, TPEOracle, create_oracle, end_trial
from tuner.strategies.auto import GP_MAX_TRIALS, GP_MIN_TRIALS, choose
from tuner.strategies.proposals import AutoChoiceChanged


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


def mostly_choices():
    hp = with_choice()
    hp.Choice("activation", ["relu", "tanh"])
    hp.Boolean("batch_norm")
    return hp


def grid_only():
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", step=10)
    hp.Float("dropout", 0.0, 0.5, step=0.25)
    hp.Int("units", 16, 128, step=16)
    return hp


def only_fixed():
    hp = kt.HyperParameters()
    hp.Fixed("units", 32)
    return hp


@pytest.mark.parametrize(
    "space, max_trials, chosen",
    [
        (numeric, GP_MIN_TRIALS - 1, "tpe"),
        (numeric, GP_MIN_TRIALS, "bayesian"),
        (numeric, GP_MAX_TRIALS, "bayesian"),
        (numeric, GP_MAX_TRIALS + 1, "tpe"),
        (numeric, 100, "bayesian"),  # 1 float, 1 stepped integer: half continuous
        (with_choice, 100, "tpe"),  # 1 float, 1 stepped integer, 1 choice
        (with_conditional, 100, "bayesian"),  # 2 floats, 1 boolean
        (with_conditional, 20, "tpe"),
        (mostly_choices, 100, "tpe"),  # 1 float of 5 entries
        (grid_only, 100, "tpe"),  # numeric, but every range stepped: a grid
        (only_fixed, 50, "random"),
    ],
)
def test_auto_chooses_by_the_space_and_the_budget(space, max_trials, chosen):
    assert choose(space(), max_trials)[0] == chosen


def test_auto_chooses_tpe_for_several_objectives():
    """The GP optimises one objective: with two, even a budget and space it fits get tpe."""
    name, why = choose(numeric(), 100, (("val_loss", "min"), ("n_params", "min")))
    assert name == "tpe" and "several objectives" in why


@pytest.mark.parametrize(
    "space, max_trials, kind, name",
    [
        (with_choice, 20, TPEOracle, "tpe"),
        (with_conditional, 60, SkoptOracle, "bayesian"),
        (only_fixed, 20, kt.oracles.RandomSearchOracle, "random"),
    ],
)
def test_auto_builds_the_chosen_strategy_and_says_so(space, max_trials, kind, name):
    oracle = create_oracle(
        "auto", objective="score", direction="min", hyperparameters=space(), max_trials=max_trials
    )
    assert type(oracle) is kind
    assert oracle.chosen_strategy == name


def test_a_resume_keeps_the_strategy_auto_started_with_when_the_budget_would_change_it(
    tmp_path,
):
    """auto chose tpe for 20 trials; resumed with 60 it would choose the GP, which did not
    make the first proposals: the oracle refuses the state (naming the strategy), and one
    built with `auto_choice` goes on with tpe and says why."""

    def opened(strategy, max_trials, auto_choice=None):
        oracle = create_oracle(
            strategy,
            objective="score",
            direction="min",
            hyperparameters=numeric(),
            max_trials=max_trials,
            auto_choice=auto_choice,
        )
        set_project_dir(oracle, tmp_path, "engine")
        return oracle

    first = opened("auto", 20)
    for _ in range(3):
        trial = first.create_trial("w")
        first.update_trial(trial.trial_id, {"score": trial.hyperparameters.get("learning_rate")})
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        end_trial(first, trial)
    with pytest.raises(AutoChoiceChanged, match='auto" chose tpe.*strategy = "tpe"') as changed:
        opened("auto", 60).reload()
    assert changed.value.saved == "tpe" and isinstance(changed.value, ConfigError)
    resumed = opened("auto", 60, auto_choice=changed.value.saved)
    resumed.reload()
    assert type(resumed) is TPEOracle and len(resumed.trials) == 3
    assert "kept on resume" in resumed.chosen_because and "bayesian" in resumed.chosen_because
    assert resumed.create_trial("w").status == kt.engine.trial.TrialStatus.RUNNING
    again = opened("auto", 30)  # tpe anyway: resumes as it is
    again.reload()
    assert again.chosen_strategy == "tpe" and len(again.trials) == 4


def test_an_ask_and_tell_study_resumed_with_a_larger_budget_keeps_autos_choice(tmp_path):
    from tuner import Study

    space = {"x": {"min": -5.0, "max": 5.0}, "y": {"min": 0.0, "max": 10.0}}
    study = Study(space, max_trials=20, folder=tmp_path / "study", seed=1)
    study.optimize(lambda t: (t.values["x"] - 1) ** 2 + t.values["y"], n_trials=4)
    resumed = Study(space, max_trials=60, folder=tmp_path / "study", seed=1)
    assert type(resumed._oracle) is TPEOracle  # choose() alone would say bayesian
    assert choose(resumed._oracle.hyperparameters, 60)[0] == "bayesian"
    resumed.optimize(lambda t: (t.values["x"] - 1) ** 2 + t.values["y"], n_trials=2)
    assert len(resumed.trials) == 6


def test_the_summary_notes_what_auto_chose(tmp_path):
    path = write_campaign(tmp_path, strategy="auto", max_trials=2, epochs=1)
    assert cli.main(["search", str(path), "--quiet"]) == 0
    summary = (tmp_path / "results" / "tiny" / "summary.md").read_text()
    assert "strategy auto chose tpe: under 50 trials tpe measured ahead of the GP" in summary
