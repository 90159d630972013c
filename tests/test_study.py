"""`tuner.Study`, ask and tell over every registered strategy with a plain function as the
objective (no training): a cheap Branin-like score of the values stands in for a simulator."""

import json
import math

import keras_tuner as kt
import numpy as np
import pytest

import tuner
from tests.test_strategy_contract import OPTIMIZERS, branin
from tuner import loop
from tuner.errors import ConfigError
from tuner.strategies import asking, get_strategy, strategy_names
from tuner.study import Study

# Every registered strategy serves an objective that is not training: a strategy that would
# continue a parent's weights (Hyperband) hands the trial a budget and names its parent instead
# (`StudyTrial.budget`, `.parent`), which a simulator or a model's iterations can spend.
# PBT is the exception: its executor copies weights between members as they train, so it is
# refused (test_a_strategy_that_trains_itself_is_refused).
STRATEGIES = tuple(s for s in strategy_names() if not get_strategy(s).trains_itself)
# A promoted trial runs its parent's values again with a larger budget: repeats by design.
NO_REPEATS = [s for s in STRATEGIES if not get_strategy(s).trains_from_parent]
HYPERBAND = {"max_epochs": 9}


def options(strategy):
    return HYPERBAND if strategy == "hyperband" else None


def stepped(strategy):
    return get_strategy(strategy).needs_stepped_ranges


def kt_space(strategy):
    """A mixed space with a conditional child (a rate only under ``dropout = True``); every
    float range stepped for a strategy that needs it (grid)."""
    step = stepped(strategy)
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", step=10 if step else None)
    hp.Int("units", 16, 128, step=16)
    hp.Choice("optimizer", OPTIMIZERS)
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.1, 0.5, step=0.1 if step else None)
    return hp


def dict_space(strategy):
    """The same space less its conditional child, in the campaign's ``[space]`` syntax."""
    step = stepped(strategy)
    rate = {"min": 1e-4, "max": 1e-1, "sampling": "log"} | ({"step": 10} if step else {})
    return {
        "learning_rate": rate,
        "units": {"min": 16, "max": 128, "step": 16},
        "optimizer": OPTIMIZERS,
    }


def kt_form_of_dict_space(strategy):
    step = stepped(strategy)
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", step=10 if step else None)
    hp.Int("units", 16, 128, step=16)
    hp.Choice("optimizer", OPTIMIZERS)
    return hp


def score(trial):
    values = trial.values
    return branin(values | {"dropout": values.get("dropout", False), "rate": values.get("rate")})


def new_study(strategy, folder=None, *, seed=0, max_trials=8, space=None):
    return Study(
        space if space is not None else kt_space(strategy),
        strategy=strategy,
        seed=seed,
        max_trials=max_trials,
        folder=folder,
        options=options(strategy),
    )


def proposed(study, n_trials=None):
    """Run the study with `score`; what it proposed: (values, budget) in the order asked."""
    study.optimize(score, n_trials)
    return [(t.values, t.budget) for t in study.trials]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_round_trip_reports_each_trial_and_the_best(strategy):
    study = new_study(strategy, max_trials=6)
    told = []
    while (trial := study.ask()) is not None:
        assert trial.status == "running" and trial.value is None
        told.append(study.tell(trial, score(trial)))
    assert len(told) == 6 == len(study.trials)
    assert [t.trial_id for t in study.trials] == [str(i) for i in range(6)]
    assert all(t.status == "completed" for t in study.trials)
    assert [t.value for t in study.trials] == [score(t) for t in told]
    assert study.best.value == min(score(t) for t in told)
    assert study.best.trial_id == min(told, key=score).trial_id
    table = study.dataframe()
    assert list(table["trial_id"]) == [t.trial_id for t in told]
    assert list(table["score"]) == [t.value for t in told]
    assert list(table["units"]) == [t.values["units"] for t in told]
    assert study.ask() is None  # max_trials spent: None again, not an error


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_values_lie_inside_the_space_and_children_follow_their_parent(strategy):
    study = new_study(strategy, max_trials=14)
    study.optimize(score)
    trials = study.trials
    assert len(trials) == 14
    for trial in trials:
        values = trial.values
        assert 1e-4 <= values["learning_rate"] <= 1e-1
        assert 16 <= values["units"] <= 128 and values["units"] % 16 == 0
        assert values["optimizer"] in OPTIMIZERS
        if values["dropout"]:
            assert 0.1 <= values["rate"] <= 0.5
        else:
            assert "rate" not in values, values
        assert not any(name.startswith("tuner/") for name in values)
        assert trial.hp.get("units") == values["units"]
        assert trial.budget is None or 1 <= trial.budget <= HYPERBAND["max_epochs"]
    assert {t.values["dropout"] for t in trials} == {True, False}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_seed_fixes_the_proposals_and_zero_is_a_seed(strategy):
    first = proposed(new_study(strategy, seed=0))
    assert first == proposed(new_study(strategy, seed=0))
    if strategy != "grid":  # the grid's order has no randomness
        assert proposed(new_study(strategy, seed=1)) != first


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_resumed_study_proposes_what_an_uninterrupted_one_does(strategy, tmp_path):
    whole = proposed(new_study(strategy, tmp_path / "whole", max_trials=12))
    cut = new_study(strategy, tmp_path / "cut", max_trials=12)
    cut.optimize(score, 7)
    pending = cut.ask()  # asked, never told: the process dies during its evaluation
    assert pending.trial_id == "7"
    resumed = new_study(strategy, tmp_path / "cut", max_trials=12)  # a new process
    assert [t.status for t in resumed.trials] == ["completed"] * 7 + ["running"]
    again = resumed.ask()
    assert (again.trial_id, again.values) == ("7", pending.values)
    resumed.tell(again, score(again))
    assert proposed(resumed) == whole


def test_ctrl_c_during_optimize_keeps_every_trial_told(tmp_path):
    calls = []

    def objective(trial):
        calls.append(trial.trial_id)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return score(trial)

    study = new_study("random", tmp_path)
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective)
    resumed = new_study("random", tmp_path)
    assert [t.status for t in resumed.trials] == ["completed"] * 3 + ["running"]
    assert resumed.ask().trial_id == "3"


def test_failed_tells_are_kept_and_never_best():
    study = new_study("random", max_trials=4)
    first, second = study.ask_batch(2)
    told = study.tell(first, failed="the simulator diverged")
    assert (told.status, told.value, told.error) == ("failed", None, "the simulator diverged")
    study.tell(second, 3.5)
    assert study.best.trial_id == second.trial_id
    errors = study.dataframe()["error"]
    assert errors[0] == "the simulator diverged" and errors.isna().tolist() == [False, True]


def test_failures_in_a_row_are_data_not_a_broken_campaign():
    """KerasTuner stops after 10 failed trials in a row; a study told infeasible points goes on."""
    study = new_study("random", max_trials=13)
    for _ in range(12):
        study.tell(study.ask(), failed="infeasible")
    last = study.ask()
    assert study.tell(last, 1.0).status == "completed" and study.best.trial_id == "12"


def test_optimize_tells_an_exception_as_a_failure_and_raises_it_unless_caught():
    def objective(trial):
        if trial.trial_id == "1":
            raise ValueError("no convergence")
        if trial.trial_id == "2":
            return math.nan
        return 1.0

    study = new_study("random", max_trials=4)
    with pytest.raises(ValueError, match="no convergence"):
        study.optimize(objective)
    assert [t.status for t in study.trials] == ["completed", "failed"]
    assert study.trials[1].error == "ValueError: no convergence"
    study.optimize(objective, catch=(ValueError,))
    assert [t.status for t in study.trials] == ["completed", "failed", "failed", "completed"]
    assert "must be a finite number, but got nan" in study.trials[2].error


@pytest.mark.parametrize("strategy", NO_REPEATS)
def test_a_batch_holds_distinct_proposals_and_pending_trials_stay_apart(strategy):
    study = new_study(strategy, max_trials=12)
    batch = study.ask_batch(5)
    assert len(batch) == 5 and len({json.dumps(t.values, sort_keys=True) for t in batch}) == 5
    single = study.ask()  # five are pending: a sixth, not one of them again
    assert single.trial_id == "5"
    for trial in [*batch, single]:
        study.tell(trial, score(trial))
    rest = study.ask_batch(10)
    assert len(rest) == 6  # what max_trials leaves
    everything = [json.dumps(t.values, sort_keys=True) for t in [*batch, single, *rest]]
    assert len(set(everything)) == 12


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_dict_form_and_the_hyperparameters_form_propose_alike(strategy):
    from_dict = new_study(strategy, space=dict_space(strategy))
    from_kt = new_study(strategy, space=kt_form_of_dict_space(strategy))
    assert proposed(from_dict) == proposed(from_kt)


def test_hyperband_trials_carry_a_budget_and_wait_for_their_round():
    study = new_study("hyperband", max_trials=30)
    first_round = study.ask_batch(30)
    assert len(first_round) == 9 and {t.budget for t in first_round} == {1}
    with pytest.raises(ConfigError, match=r"waits for the results of trial\(s\) 0, 1, .*tell"):
        study.ask()
    for trial in first_round:
        study.tell(trial, score(trial))
    promoted = study.ask()
    assert promoted.budget == 3 and promoted.parent is not None
    parent = next(t for t in study.trials if t.trial_id == promoted.parent)
    assert parent.values == promoted.values
    assert parent.value == min(t.value for t in study.trials if t.budget == 1)


def test_the_loop_and_the_study_ask_and_tell_through_one_module():
    assert loop.ask_batch is asking.ask_batch and loop.slot_id is asking.slot_id


def test_study_is_public():
    assert tuner.Study is Study and "Study" in dir(tuner) and "StudyTrial" in dir(tuner)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strategy": "tpee"}, r"unknown strategy 'tpee'.*did you mean 'tpe'"),
        ({"space": {"units": {"min": 128, "max": 16}}}, r'space\["units"\]: `min < max`'),
        ({"space": {}}, "declares no hyperparameters"),
        ({"space": [1, 2]}, "space must be a dict"),
        ({"max_trials": 0}, "max_trials must be at least 1"),
        ({"direction": "up"}, "direction must be 'min' or 'max'"),
        ({"strategy": "grid"}, "grid search needs a step on every float range"),
        ({"options": {"surrogate": "GP"}}, "unknown key 'surrogate'"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, message):
    arguments = {"space": {"x": {"min": 0.0, "max": 1.0}}} | kwargs
    with pytest.raises(ConfigError, match=message):
        Study(arguments.pop("space"), **arguments)


def test_bad_tells_are_refused_by_name_and_change_nothing():
    study = new_study("random", max_trials=5)
    trial = study.ask()
    with pytest.raises(ConfigError, match=r"must be a finite number, but got inf.*failed="):
        study.tell(trial, math.inf)
    with pytest.raises(ConfigError, match="must be a finite number, but got 'low'"):
        study.tell(trial, "low")
    with pytest.raises(ConfigError, match="needs a value or failed='why', exactly one"):
        study.tell(trial, 1.0, failed="also")
    with pytest.raises(ConfigError, match="needs a value or failed='why', exactly one"):
        study.tell(trial)
    with pytest.raises(ConfigError, match="'42' is not a trial of this study"):
        study.tell("42", 1.0)
    assert study.trials[0].status == "running"
    study.tell(trial.trial_id, np.float32(2.0))  # any real number, by its id
    with pytest.raises(ConfigError, match=r"trial 0 was already told \(completed, value 2.0\)"):
        study.tell(trial, 1.0)
    assert study.trials[0].value == 2.0


@pytest.mark.parametrize(
    "changed, named",
    [
        ({"strategy": "tpe"}, "another strategy: it was saved with strategy='auto'"),
        ({"objective": "loss"}, "another objective"),
        ({"seed": 3}, "another seed"),
        ({"space": {"x": {"min": 0.0, "max": 2.0}, "y": [1, 2]}}, "x declared otherwise"),
        ({"space": {"x": {"min": 0.0, "max": 1.0}, "z": [1, 2]}}, "y only in the saved space"),
    ],
)
def test_a_folder_of_another_study_is_refused_with_the_way_out(tmp_path, changed, named):
    settings = {"space": {"x": {"min": 0.0, "max": 1.0}, "y": [1, 2]}, "folder": tmp_path}
    study = Study(**settings)
    study.tell(study.ask(), 1.0)
    with pytest.raises(ConfigError, match=f"{named}.*to resume it, or another folder"):
        Study(**(settings | changed))
    resumed = Study(**(settings | {"max_trials": 50}))  # a larger budget resumes
    assert len(resumed.trials) == 1


def test_a_folder_that_holds_something_else_is_refused(tmp_path):
    (tmp_path / "trials.csv").write_text("rank\n")
    with pytest.raises(ConfigError, match="is not empty and holds no study"):
        Study({"x": [1, 2]}, folder=tmp_path)
    with pytest.raises(ConfigError, match="is a file; give a folder's path"):
        Study({"x": [1, 2]}, folder=tmp_path / "trials.csv")


def test_a_strategy_that_trains_itself_is_refused():
    with pytest.raises(ConfigError, match="strategy 'pbt' trains its trials itself.*campaign"):
        Study({"x": {"min": 0.0, "max": 1.0}}, strategy="pbt", max_trials=4)


def test_a_study_of_two_objectives_tells_pairs_and_gives_the_brute_force_front(tmp_path):
    space = {"x": {"min": 0.0, "max": 1.0}, "k": ["a", "b"]}

    def both(trial):  # a trade-off in x; k = "b" is worse in both: never on the front
        x, worse = trial.values["x"], trial.values["k"] == "b"
        return (x + worse, (1 - x) ** 2 + worse)

    common = dict(objective=["f1", "f2"], direction=["min", "min"], strategy="tpe", seed=0)
    study = Study(space, max_trials=12, folder=tmp_path / "s", **common)
    study.optimize(both)
    told = {t.trial_id: t.value for t in study.trials}
    assert all(isinstance(v, tuple) and len(v) == 2 for v in told.values())
    brute = {
        a
        for a, va in told.items()
        if not any(
            vb[0] <= va[0] and vb[1] <= va[1] and vb != va for b, vb in told.items() if b != a
        )
    }
    assert {t.trial_id for t in study.pareto_front()} == brute
    assert all(t.values["k"] == "a" for t in study.pareto_front())
    frame = study.dataframe()
    assert list(frame.columns[:4]) == ["trial_id", "status", "f1", "f2"]
    assert frame.set_index("trial_id")["f2"].to_dict() == {i: v[1] for i, v in told.items()}
    with pytest.raises(ConfigError, match=r"several objectives \(f1, f2\) has no one best"):
        _ = study.best
    more = Study(space, max_trials=13, folder=tmp_path / "s", **common)
    with pytest.raises(ConfigError, match=r"tell one value an objective \(f1, f2\)"):
        more.tell(more.ask(), 0.5)
    # Resumed: the told pairs come back as they were.
    resumed = Study(space, max_trials=13, folder=tmp_path / "s", **common)
    assert {t.trial_id: t.value for t in resumed.trials if t.value is not None} == told


def test_several_objectives_need_a_strategy_that_models_them():
    with pytest.raises(ConfigError, match="strategy 'bayesian' optimises one objective"):
        Study({"x": {"min": 0.0, "max": 1.0}}, objective=["a", "b"], strategy="bayesian")
    with pytest.raises(ConfigError, match="direction must be 'min' or 'max', or one of them"):
        Study({"x": {"min": 0.0, "max": 1.0}}, objective=["a", "b"], direction=["min"])
    with pytest.raises(ConfigError, match="distinct names"):
        Study({"x": {"min": 0.0, "max": 1.0}}, objective=["a", "a"])
