"""``strategy = "tpe"``: Optuna's TPE sampler on KerasTuner's engine; what the contract suite
(tests/test_strategy_contract.py) does not cover."""

import statistics

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module
from optuna.trial import TrialState

from tests.test_strategy_contract import branin, space
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import TPEOracle, create_oracle, end_trial
from tuner.strategies.tpe import default_initial_points


def new_oracle(folder, strategy="tpe", max_trials=30, seed=0, direction="min", options=None):
    oracle = create_oracle(
        strategy,
        objective=kt.Objective("score", direction),
        hyperparameters=space(strategy),
        max_trials=max_trials,
        seed=seed,
        options=options,
    )
    set_project_dir(oracle, folder, "engine")
    return oracle


def run(oracle, score=branin, fail=lambda values: False, stop_after=None):
    """Trials one at a time until the oracle stops (or `stop_after` trials); their values."""
    ran = []
    while stop_after is None or len(ran) < stop_after:
        trial = oracle.create_trial("chief")
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        values = dict(trial.hyperparameters.values)
        if fail(values):
            trial.status = trial_module.TrialStatus.FAILED
        else:
            oracle.update_trial(trial.trial_id, {"score": score(values)})
            trial.status = trial_module.TrialStatus.COMPLETED
        end_trial(oracle, trial)
        ran.append(values)
    return ran


def test_initial_points_are_a_quarter_of_the_budget_between_3_and_10():
    assert [default_initial_points(n) for n in (5, 12, 20, 40, 100, 0)] == [3, 3, 5, 10, 10, 10]


def test_options_reach_the_sampler(tmp_path):
    oracle = new_oracle(
        tmp_path, options={"initial_points": 4, "multivariate": False, "candidates": 8}
    )
    assert isinstance(oracle, TPEOracle)
    sampler = oracle._sampler()
    assert (sampler._n_startup_trials, sampler._n_ei_candidates) == (4, 8)
    assert (sampler._multivariate, sampler._group, sampler._constant_liar) == (False, False, True)
    default = new_oracle(tmp_path / "d", max_trials=20)._sampler()
    assert (default._n_startup_trials, default._multivariate, default._group) == (5, True, True)


def test_tpe_beats_random_search_on_branin(tmp_path):
    """Best score after 30 trials, median of three seeds: TPE lower than random search."""
    best = {}
    for strategy in ("tpe", "random"):
        best[strategy] = statistics.median(
            min(
                branin(v)
                for v in run(new_oracle(tmp_path / f"{strategy}{seed}", strategy, seed=seed))
            )
            for seed in (0, 1, 2)
        )
    assert best["tpe"] < best["random"], best


def test_the_direction_and_failures_reach_the_study(tmp_path):
    oracle = new_oracle(tmp_path, direction="max", max_trials=8)
    run(oracle, fail=lambda values: values["optimizer"] == "sgd")
    study = oracle._study()
    assert study.direction.name == "MAXIMIZE"
    states = [t.state for t in study.trials]
    failed = [t.state == TrialState.FAIL for t in study.trials]
    ran = [oracle.trials[t] for t in oracle.start_order]
    assert failed == [t.status == trial_module.TrialStatus.FAILED for t in ran] and any(failed)
    assert [t.value for t in study.trials if t.state == TrialState.COMPLETE] == [
        t.score for t in ran if t.status == trial_module.TrialStatus.COMPLETED
    ]
    assert TrialState.RUNNING not in states
    # A child is told only when its parent allows it: the study sees what the trial ran.
    for frozen, trial in zip(study.trials, ran):
        values = trial.hyperparameters.values
        assert ("rate" in frozen.params) == values["dropout"]


def test_a_resume_with_a_larger_budget_keeps_the_initial_design(tmp_path):
    """initial_points sized to the budget the campaign started with (12: 3), not the new one."""
    first = run(new_oracle(tmp_path / "cut", max_trials=12))
    resumed = new_oracle(tmp_path / "cut", max_trials=40)
    assert resumed.initial_points == 10
    resumed.reload()
    assert resumed.initial_points == 3
    assert len(first) == 12 and len(run(resumed)) == 28
    given = new_oracle(tmp_path / "given", max_trials=12, options={"initial_points": 5})
    run(given, stop_after=2)
    regiven = new_oracle(tmp_path / "given", max_trials=40, options={"initial_points": 7})
    regiven.reload()
    assert regiven.initial_points == 7  # one the campaign gives is the campaign's to change


def test_a_space_with_nothing_to_tune_runs_its_one_configuration(tmp_path):
    hp = kt.HyperParameters()
    hp.Fixed("units", 8)
    hp.Fixed("optimizer", "adam")
    oracle = create_oracle(
        "tpe", objective=kt.Objective("score", "min"), hyperparameters=hp, max_trials=3
    )
    set_project_dir(oracle, tmp_path, "engine")
    assert run(oracle, score=lambda values: 1.0) == [{"units": 8, "optimizer": "adam"}]
