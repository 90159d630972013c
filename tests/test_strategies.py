"""A suite every strategy passes, driven through the oracle alone with a synthetic objective."""
import math

import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tuner.errors import ConfigError
from tuner.space import build_space, grid_size
from tuner.strategies import SkoptOracle, create_oracle, end_trial

SPACE = {
    "learning_rate": {"min": 1e-5, "max": 1e-1, "sampling": "log"},
    "units": {"min": 16, "max": 128, "step": 16},
    "n_layers": {"min": 1, "max": 4},
    "optimizer": ["adam", "sgd", "rmsprop"],
    "batch_norm": [True, False],
    "dropout": 0.1,
}
GRID_SPACE = {"units": {"min": 16, "max": 64, "step": 16}, "optimizer": ["adam", "sgd"],
              "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log", "step": 10}}


def synthetic_score(values):
    """Best at learning_rate 1e-3, 64 units, adam."""
    score = -abs(math.log10(values["learning_rate"]) + 3) - abs(values.get("units", 64) - 64) / 64
    return score + (0.5 if values.get("optimizer") == "adam" else 0.0)


def drive(strategy, tmp_path, space=SPACE, max_trials=12, seed=0, fail=lambda v: False,
          oracle=None):
    if oracle is None:
        oracle = create_oracle(strategy, objective="score", direction="max",
                               hyperparameters=build_space(space), max_trials=max_trials,
                               seed=seed, epochs=9)
        oracle._set_project_dir(str(tmp_path), "engine")
    trials = []
    while True:
        trial = oracle.create_trial("chief")
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        values = trial.hyperparameters.values
        if fail(values):
            trial.status = trial_module.TrialStatus.FAILED
        else:
            oracle.update_trial(trial.trial_id, {"score": synthetic_score(values)})
            trial.status = trial_module.TrialStatus.COMPLETED
        end_trial(oracle, trial)
        trials.append(dict(values))
    return oracle, trials


def tuned(values):
    return tuple(sorted((k, v) for k, v in values.items() if not k.startswith("tuner/")))


def in_space(values, space):
    for name, spec in space.items():
        value = values[name]
        if isinstance(spec, dict):
            assert spec["min"] <= value <= spec["max"], (name, value)
            if "step" in spec and spec.get("sampling", "linear") == "linear":
                assert (value - spec["min"]) % spec["step"] == 0, (name, value)
        elif isinstance(spec, list):
            assert value in spec, (name, value)
        else:
            assert value == spec, (name, value)


@pytest.mark.parametrize("strategy", ["random", "bayesian", "hyperband", "grid"])
def test_values_lie_in_the_space(strategy, tmp_path):
    space = GRID_SPACE if strategy == "grid" else SPACE
    _, trials = drive(strategy, tmp_path, space=space)
    assert trials
    for values in trials:
        in_space(values, space)


@pytest.mark.parametrize("strategy", ["random", "bayesian", "hyperband", "grid"])
def test_same_seed_same_trials_and_seed_zero_is_kept(strategy, tmp_path):
    space = GRID_SPACE if strategy == "grid" else SPACE
    oracle, first = drive(strategy, tmp_path / "a", space=space, seed=0)
    _, second = drive(strategy, tmp_path / "b", space=space, seed=0)
    assert first == second
    assert oracle.seed == 0
    if strategy in ("random", "bayesian"):
        _, other = drive(strategy, tmp_path / "c", space=space, seed=1)
        assert other != first


@pytest.mark.parametrize("strategy", ["random", "bayesian", "grid"])
def test_no_duplicates_and_stops_at_max_trials(strategy, tmp_path):
    space = GRID_SPACE if strategy == "grid" else SPACE
    _, trials = drive(strategy, tmp_path, space=space, max_trials=10)
    assert len(trials) == 10
    assert len({tuned(v) for v in trials}) == 10


def test_hyperband_stops_at_max_trials_and_promotes_the_best(tmp_path):
    _, trials = drive("hyperband", tmp_path, max_trials=20)
    assert len(trials) == 20
    first_round = [tuned(v) for v in trials if v["tuner/round"] == 0]
    assert len(set(first_round)) == len(first_round)
    promoted = [v for v in trials if v["tuner/round"] > 0]
    assert promoted, "a bracket of 9 epochs with factor 3 promotes within 20 trials"
    for values in promoted:
        assert "tuner/trial_id" in values and values["tuner/initial_epoch"] > 0


def test_grid_counts_combinations_and_covers_them_all(tmp_path):
    assert grid_size(build_space(GRID_SPACE)) == 4 * 2 * 3
    _, trials = drive("grid", tmp_path, space=GRID_SPACE, max_trials=100)
    assert len({tuned(v) for v in trials}) == 24 == len(trials)


def test_grid_refuses_a_float_range_without_step():
    with pytest.raises(ConfigError, match="learning_rate"):
        create_oracle("grid", objective="score", direction="max", max_trials=5,
                      hyperparameters=build_space({"learning_rate": {"min": 1e-4, "max": 1e-1}}))


def test_bayesian_beats_chance_on_a_smooth_objective(tmp_path):
    _, bayes = drive("bayesian", tmp_path / "b", max_trials=25)
    _, rand = drive("random", tmp_path / "r", max_trials=25)
    assert max(map(synthetic_score, bayes)) >= max(map(synthetic_score, rand))


def test_bayesian_tells_failures_with_a_penalty(tmp_path):
    fail = lambda values: values["optimizer"] == "sgd"  # noqa: E731
    oracle, trials = drive("bayesian", tmp_path, max_trials=15, fail=fail)
    told = oracle._optimizer.yi
    completed = [-synthetic_score(v) for v in trials if not fail(v)]
    assert len(told) >= len(trials) - 1  # every trial but a failure before any success
    assert any(fail(v) for v in trials)
    assert max(told) > max(completed), "a failure is told as worse than every finished trial"


@pytest.mark.parametrize("options", [{"surrogate": "RF"}, {"surrogate": "ET", "acquisition": "LCB"},
                                     {"surrogate": "GBRT", "acquisition": "PI"},
                                     {"acquisition": "gp_hedge", "initial_points": 3}])
def test_bayesian_surrogates_and_acquisitions(options, tmp_path):
    oracle = create_oracle("bayesian", objective="score", direction="max",
                           hyperparameters=build_space(SPACE), max_trials=8, options=options)
    oracle._set_project_dir(str(tmp_path), "engine")
    _, trials = drive("bayesian", tmp_path, oracle=oracle)
    assert len({tuned(v) for v in trials}) == 8


def test_bayesian_survives_a_resume(tmp_path):
    oracle, first = drive("bayesian", tmp_path, max_trials=8)
    resumed = create_oracle("bayesian", objective="score", direction="max",
                            hyperparameters=build_space(SPACE), max_trials=14)
    resumed._set_project_dir(str(tmp_path), "engine")
    resumed.reload()
    _, more = drive("bayesian", tmp_path, oracle=resumed)
    assert len(more) == 6
    assert len({tuned(v) for v in first + more}) == 14
    assert len(resumed._optimizer.yi) == 14 - 1  # told all 8 old and 5 new before the last ask


@pytest.mark.parametrize("options, message", [({"surrogate": "SVM"}, "surrogate"),
                                              ({"acquisition": "UCB"}, "acquisition"),
                                              ({"initial_points": 0}, "initial_points")])
def test_bayesian_rejects_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        SkoptOracle(objective=kt.Objective("score", "max"), max_trials=3,
                    hyperparameters=build_space(SPACE), **options)
