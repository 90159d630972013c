"""The contract every search strategy keeps, driven through its oracle alone (no training): a
cheap Branin-like score of the values stands in for a trial's result.

Values lie inside the space; a conditional entry appears only when its parent allows it; a
seed (0 included) fixes the proposals; no proposal repeats one while the space has others;
the search stops at ``max_trials``; a batch (asked as the loop asks) holds no repeats; and a
campaign resumed from its saved state proposes what an uninterrupted one does."""

import math

import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tuner.loop import ask_batch
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import create_oracle, end_trial

SCORE = kt.Objective("score", "min")
OPTIMIZERS = ["adam", "sgd", "rmsprop"]
STRATEGIES = ["random", "grid", "bayesian", "hyperband", "tpe", "evolution", "auto"]
# Hyperband runs a promoted trial again with the same values (for more epochs): repeats are
# its design, so the no-repeat clauses leave it out.
NO_REPEATS = [s for s in STRATEGIES if s != "hyperband"]


def space(strategy: str) -> kt.HyperParameters:
    """A mixed space with a conditional child: a log float, a stepped int, a choice, a fixed
    value, and a dropout rate only under ``dropout = True``. Grid search gets every float range
    stepped (it needs a finite grid)."""
    grid = strategy == "grid"
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", step=10 if grid else None)
    hp.Int("units", 16, 128, step=16)
    hp.Choice("optimizer", OPTIMIZERS)
    hp.Fixed("epochs", 3)
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.1, 0.5, step=0.1 if grid else None)
    return hp


def branin(values: dict) -> float:
    """Branin's function over (learning rate, units), shifted by the choice and the dropout:
    cheap, smooth, with several minima."""
    x1 = 15 * (math.log10(values["learning_rate"]) + 4) / 3 - 5  # [-5, 10]
    x2 = 15 * (values["units"] - 16) / 112  # [0, 15]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    score = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
    score += OPTIMIZERS.index(values["optimizer"])
    return score + (abs(values["rate"] - 0.3) * 10 if values["dropout"] else 2.0)


def new_oracle(strategy, folder, max_trials=12, seed=0):
    oracle = create_oracle(
        strategy,
        objective=SCORE,
        hyperparameters=space(strategy),
        max_trials=max_trials,
        seed=seed,
        epochs=9,
    )
    set_project_dir(oracle, folder, "engine")
    return oracle


def tell(oracle, trial):
    oracle.update_trial(trial.trial_id, {"score": branin(trial.hyperparameters.values)})
    trial.status = trial_module.TrialStatus.COMPLETED
    end_trial(oracle, trial)


def drive(oracle, batch=1, stop_after=None):
    """Ask for trials (`batch` at a time, as `tuner.loop.ask_batch` does) and tell each its
    score, until the oracle stops (or `stop_after` batches); the batches of values proposed."""
    batches = []
    while stop_after is None or len(batches) < stop_after:
        trials, _ = ask_batch(oracle, "chief", batch)
        if not trials:
            return batches
        batches.append([dict(t.hyperparameters.values) for t in trials])
        for trial in trials:
            tell(oracle, trial)
    return batches


def proposals(oracle, batch=1, stop_after=None):
    return [values for b in drive(oracle, batch, stop_after) for values in b]


def tuned(values):
    return tuple(sorted((k, v) for k, v in values.items() if not k.startswith("tuner/")))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_values_lie_inside_the_space_and_children_follow_their_parent(strategy, tmp_path):
    ran = proposals(new_oracle(strategy, tmp_path, max_trials=16))
    assert ran
    for values in ran:
        assert 1e-4 <= values["learning_rate"] <= 1e-1
        assert 16 <= values["units"] <= 128 and values["units"] % 16 == 0
        assert values["optimizer"] in OPTIMIZERS
        assert values["epochs"] == 3
        assert values["dropout"] in (True, False)
        if values["dropout"]:
            assert 0.1 <= values["rate"] <= 0.5
        else:
            assert "rate" not in values, values
    assert {v["dropout"] for v in ran} == {True, False}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_seed_fixes_the_proposals_and_zero_is_a_seed(strategy, tmp_path):
    first = proposals(new_oracle(strategy, tmp_path / "a", seed=0))
    again = proposals(new_oracle(strategy, tmp_path / "b", seed=0))
    assert first == again
    if strategy != "grid":  # the grid's order has no randomness
        other = proposals(new_oracle(strategy, tmp_path / "c", seed=1))
        assert other != first


@pytest.mark.parametrize("strategy", NO_REPEATS)
def test_no_repeats_and_the_search_stops_at_max_trials(strategy, tmp_path):
    oracle = new_oracle(strategy, tmp_path, max_trials=15)
    ran = proposals(oracle)
    assert len(ran) == 15 == len(oracle.trials)
    assert len({tuned(v) for v in ran}) == 15


@pytest.mark.parametrize("strategy", NO_REPEATS)
def test_a_small_space_is_searched_to_its_end_without_repeats(strategy, tmp_path):
    """A space of 6 combinations, asked for 10: every combination once, then stop."""
    hp = kt.HyperParameters()
    hp.Choice("optimizer", OPTIMIZERS)
    hp.Boolean("bias")
    oracle = create_oracle(strategy, objective=SCORE, hyperparameters=hp, max_trials=10)
    set_project_dir(oracle, tmp_path, "engine")
    ran = []
    while True:
        trial = oracle.create_trial("chief")
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        ran.append(tuned(trial.hyperparameters.values))
        oracle.update_trial(trial.trial_id, {"score": float(len(ran))})
        trial.status = trial_module.TrialStatus.COMPLETED
        end_trial(oracle, trial)
    assert len(ran) == 6 == len(set(ran))


@pytest.mark.parametrize("strategy", NO_REPEATS)
def test_a_batch_of_proposals_holds_no_repeats(strategy, tmp_path):
    oracle = new_oracle(strategy, tmp_path, max_trials=16)
    batches = drive(oracle, batch=5)
    assert [len(b) for b in batches] == [5, 5, 5, 1]
    ran = [tuned(v) for b in batches for v in b]
    assert len(set(ran)) == 16
    for b in batches:  # each batch was asked under distinct ids, none ending before the last
        assert len({tuned(v) for v in b}) == len(b)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_resumed_search_proposes_what_an_uninterrupted_one_does(strategy, tmp_path):
    whole = proposals(new_oracle(strategy, tmp_path / "whole", max_trials=16))
    before = proposals(new_oracle(strategy, tmp_path / "cut", max_trials=16), stop_after=10)
    resumed = new_oracle(strategy, tmp_path / "cut", max_trials=16)  # a new process
    resumed.reload()
    after = proposals(resumed)
    assert len(before) == 10 and len(after) == 6
    assert before + after == whole
