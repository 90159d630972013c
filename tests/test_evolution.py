"""``strategy = "evolution"``: regularised evolution on KerasTuner's engine; its mutation rules
and what the contract suite (tests/test_strategy_contract.py) does not cover."""

import math
import statistics

import keras_tuner as kt
import numpy as np
import pytest
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from tests.test_strategy_contract import OPTIMIZERS, branin, space
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import EvolutionOracle, create_oracle, end_trial
from tuner.strategies.evolution import default_population, default_sample
from tuner.strategies.mutation import Mutation, design_point, mutate, mutate_value


def new_oracle(folder, strategy="evolution", max_trials=60, seed=0, options=None, direction="min"):
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


def run(oracle, fail=lambda values: False, before_each=None):
    """Trials one at a time until the oracle stops; their values."""
    ran = []
    while True:
        if before_each is not None:
            before_each(oracle)
        trial = oracle.create_trial("chief")
        if trial.status != trial_module.TrialStatus.RUNNING:
            return ran
        values = dict(trial.hyperparameters.values)
        if fail(values):
            trial.status = trial_module.TrialStatus.FAILED
        else:
            oracle.update_trial(trial.trial_id, {"score": branin(values)})
            trial.status = trial_module.TrialStatus.COMPLETED
        end_trial(oracle, trial)
        ran.append(values)


def changed(parent, child):
    return {k for k in parent.keys() | child.keys() if parent.get(k) != child.get(k)}


# -- mutation rules -------------------------------------------------------------------------
def test_a_child_changes_one_entry_and_keeps_every_value_in_its_range_and_step():
    hp = space("evolution")
    parent = {
        "learning_rate": 1e-3,
        "units": 128,
        "optimizer": "sgd",
        "epochs": 3,
        "dropout": True,
        "rate": 0.5,
    }
    seen = set()
    for seed in range(300):
        child = mutate(hp.space, parent, np.random.default_rng(seed), Mutation())
        diff = changed(parent, child)
        # one entry, or the dropout switch with the rate it governs
        assert len(diff) == 1 or diff == {"dropout", "rate"}, (parent, child)
        seen |= diff
        assert 1e-4 <= child["learning_rate"] <= 1e-1
        assert 16 <= child["units"] <= 128 and child["units"] % 16 == 0
        assert child["optimizer"] in OPTIMIZERS and child["epochs"] == 3
        assert ("rate" in child) == child["dropout"]
        if child["dropout"]:
            assert 0.1 <= child["rate"] <= 0.5
    assert seen == {"learning_rate", "units", "optimizer", "dropout", "rate"}


def test_a_log_range_moves_on_its_log_scale_and_is_clipped_to_it():
    h = hp_module.Float("lr", 1e-6, 1e-2, sampling="log")
    how = Mutation(scale=0.1, resample=0.0)
    rng = np.random.default_rng(0)
    moves = [math.log10(mutate_value(h, 1e-4, rng, how) / 1e-4) for _ in range(2000)]
    # a normal step of 0.1 of 4 decades: median |move| 0.674 * 0.4 = 0.27 decades, either way
    # (on a linear scale, the steps down would all clip to 1e-6 and the steps up be ~2 decades)
    assert 0.22 < statistics.median(abs(m) for m in moves) < 0.32
    assert 0.45 < sum(m < 0 for m in moves) / len(moves) < 0.55
    at_top = [mutate_value(h, 1e-2, rng, how) for _ in range(200)]
    assert all(1e-6 <= v < 1e-2 for v in at_top)  # pushed out at the top: inward, never past


def test_stepped_ranges_and_ints_stay_on_their_grid_and_always_move():
    stepped = hp_module.Float("rate", 0.1, 0.5, step=0.1)
    units = hp_module.Int("units", 16, 128, step=16)
    layers = hp_module.Int("layers", 1, 3)
    rng = np.random.default_rng(0)
    grid = list(stepped.values)  # KerasTuner's own grid for this range
    assert np.allclose(grid, [0.1, 0.2, 0.3, 0.4, 0.5])
    for parent in grid:
        for _ in range(50):
            child = mutate_value(stepped, parent, rng, Mutation())
            assert child != parent and min(abs(child - g) for g in grid) < 1e-12
    for parent in (16, 128):
        children = {mutate_value(units, parent, rng, Mutation()) for _ in range(100)}
        assert parent not in children and children <= set(range(16, 129, 16))
    assert {mutate_value(layers, 3, rng, Mutation()) for _ in range(100)} <= {1, 2}


def test_choices_move_to_a_neighbour_when_ordered_and_anywhere_else_when_not():
    ordered = hp_module.Choice("batch", [16, 32, 64, 128, 256])
    unordered = hp_module.Choice("optimizer", OPTIMIZERS)
    rng = np.random.default_rng(0)
    neighbours_only = Mutation(resample=0.0)
    assert {mutate_value(ordered, 64, rng, neighbours_only) for _ in range(100)} == {32, 128}
    assert {mutate_value(ordered, 256, rng, neighbours_only) for _ in range(20)} == {128}
    assert {mutate_value(ordered, 64, rng, Mutation(resample=1.0)) for _ in range(200)} == {
        16,
        32,
        128,
        256,
    }
    assert {mutate_value(unordered, "sgd", rng, neighbours_only) for _ in range(100)} == {
        "adam",
        "rmsprop",
    }
    flag = hp_module.Boolean("bias")
    assert mutate_value(flag, True, rng, Mutation()) is False


def test_a_parent_switched_on_brings_its_child_and_switched_off_takes_it_away():
    hp = kt.HyperParameters()
    hp.Fixed("units", 8)
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.1, 0.5)
    rates = set()
    for seed in range(20):
        on = mutate(
            hp.space, {"units": 8, "dropout": False}, np.random.default_rng(seed), Mutation()
        )
        assert on["dropout"] is True and 0.1 <= on["rate"] <= 0.5  # a fresh sample
        rates.add(on["rate"])
    assert len(rates) == 20
    children = [
        mutate(
            hp.space,
            {"units": 8, "dropout": True, "rate": 0.3},
            np.random.default_rng(s),
            Mutation(),
        )
        for s in range(40)
    ]
    assert {"units": 8, "dropout": False} in children  # no rate without dropout
    kept = [c for c in children if c["dropout"]]
    assert kept and all(c["rate"] != 0.3 for c in kept)  # else the rate itself moved


def test_a_value_the_space_no_longer_allows_is_sampled_afresh():
    hp = kt.HyperParameters()
    hp.Choice("optimizer", OPTIMIZERS)
    hp.Int("units", 16, 64, step=16)
    child = mutate(
        hp.space, {"optimizer": "nadam", "units": 32}, np.random.default_rng(0), Mutation(changes=1)
    )
    assert child["optimizer"] in OPTIMIZERS


def test_the_initial_population_is_a_latin_hypercube():
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Choice("c", ["a", "b", "c", "d", "e"])
    points = [design_point(hp.space, i, 10, seed=3) for i in range(10)]
    assert sorted(int(p["x"] * 10) for p in points) == list(range(10))  # one point a tenth
    assert sorted(p["c"] for p in points) == sorted("abcde" * 2)  # each value twice
    assert points == [design_point(hp.space, i, 10, seed=3) for i in range(10)]
    assert points != [design_point(hp.space, i, 10, seed=4) for i in range(10)]


# -- the oracle -----------------------------------------------------------------------------
def test_population_and_sample_are_sized_to_the_budget():
    assert [default_population(n) for n in (5, 16, 60, 100, 0)] == [2, 5, 20, 20, 20]
    assert [default_sample(p) for p in (2, 5, 20, 40)] == [2, 2, 5, 10]


def test_options_reach_the_oracle_and_a_resume_keeps_the_population_it_started_with(tmp_path):
    options = {"population": 6, "sample": 3, "mutations": 2, "scale": 0.2, "resample": 0.5}
    oracle = new_oracle(tmp_path / "o", options=options)
    assert isinstance(oracle, EvolutionOracle)
    assert (oracle.population, oracle.sample) == (6, 3)
    assert oracle.mutation == Mutation(changes=2, scale=0.2, resample=0.5)
    small = new_oracle(tmp_path / "s", max_trials=12)
    run(small)
    raised = new_oracle(tmp_path / "s", max_trials=60)  # resumed with a larger budget
    raised.reload()
    assert (raised.population, raised.sample) == (4, 2)
    # a sample larger than the budget's population makes the population that large
    assert new_oracle(tmp_path / "l", max_trials=12, options={"sample": 6}).population == 6


def test_the_population_is_the_latest_finished_trials_and_failures_never_join(tmp_path):
    oracle = new_oracle(tmp_path, max_trials=12, options={"population": 4})
    ran = run(oracle, fail=lambda values: values["optimizer"] == "rmsprop")
    finished = [v for v in ran if v["optimizer"] != "rmsprop"]
    assert len(finished) < len(ran) == 12
    assert [values for values, _ in oracle.members()] == finished[-4:]
    assert [loss for _, loss in oracle.members()] == [branin(v) for v in finished[-4:]]


@pytest.mark.parametrize("direction", ["min", "max"])
def test_with_the_whole_population_sampled_each_child_is_the_best_member_mutated(
    tmp_path, direction
):
    options = {"population": 5, "sample": 5}
    oracle = new_oracle(tmp_path, max_trials=24, options=options, direction=direction)
    pick = min if direction == "min" else max
    parents = []
    ran = run(
        oracle,
        before_each=lambda o: parents.append(
            pick((values for values, _ in o.members()), key=branin) if len(o.trials) >= 5 else None
        ),
    )
    assert len(ran) == 24
    for parent, child in zip(parents[5:24], ran[5:], strict=True):
        diff = changed(parent, child)
        assert len(diff) == 1 or diff == {"dropout", "rate"}, (parent, child)


def test_evolution_beats_random_search_on_branin(tmp_path):
    """Best score after 60 trials, median of five seeds: evolution lower than random search."""
    best = {}
    for strategy in ("evolution", "random"):
        best[strategy] = statistics.median(
            min(
                branin(v)
                for v in run(new_oracle(tmp_path / f"{strategy}{seed}", strategy, seed=seed))
            )
            for seed in range(5)
        )
    assert best["evolution"] < best["random"], best


def test_a_large_first_batch_explores_until_something_finishes(tmp_path):
    """Trials asked before any has finished, past the initial design, are random and distinct."""
    oracle = new_oracle(tmp_path, max_trials=10, options={"population": 2})
    trials = [oracle.create_trial(f"t{i}") for i in range(6)]
    values = [tuple(sorted(t.hyperparameters.values.items())) for t in trials]
    assert all(t.status == trial_module.TrialStatus.RUNNING for t in trials)
    assert len(set(values)) == 6 and oracle.members() == []
