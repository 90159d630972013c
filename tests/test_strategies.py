"""A suite every strategy passes, driven through the oracle alone with a synthetic objective;
then the registry a strategy plugs into."""

import math
import subprocess
import sys

import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tuner.errors import ConfigError
from tuner.space import build_space, distinct_configurations
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import (
    STRATEGIES,
    SkoptOracle,
    Strategy,
    create_oracle,
    end_trial,
    get_strategy,
    registry,
    strategy_names,
)

SPACE = {
    "learning_rate": {"min": 1e-5, "max": 1e-1, "sampling": "log"},
    "units": {"min": 16, "max": 128, "step": 16},
    "n_layers": {"min": 1, "max": 4},
    "optimizer": ["adam", "sgd", "rmsprop"],
    "batch_norm": [True, False],
    "dropout": 0.1,
}
SCORE = kt.Objective("score", "max")
GRID_SPACE = {
    "units": {"min": 16, "max": 64, "step": 16},
    "optimizer": ["adam", "sgd"],
    "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log", "step": 10},
}


def synthetic_score(values):
    """Best at learning_rate 1e-3, 64 units, adam."""
    score = -abs(math.log10(values["learning_rate"]) + 3) - abs(values.get("units", 64) - 64) / 64
    return score + (0.5 if values.get("optimizer") == "adam" else 0.0)


def new_oracle(strategy, tmp_path, space=SPACE, max_trials=12, seed=0):
    """A fresh oracle of `strategy` over `space`, keeping its state under `tmp_path`."""
    oracle = create_oracle(
        strategy,
        objective=SCORE,
        hyperparameters=build_space(space),
        max_trials=max_trials,
        seed=seed,
        epochs=9,
    )
    set_project_dir(oracle, tmp_path, "engine")
    return oracle


def drive(
    strategy, tmp_path, space=SPACE, max_trials=12, seed=0, fail=lambda v: False, oracle=None
):
    if oracle is None:
        oracle = new_oracle(strategy, tmp_path, space, max_trials, seed)
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
    assert distinct_configurations(build_space(GRID_SPACE)) == 4 * 2 * 3
    _, trials = drive("grid", tmp_path, space=GRID_SPACE, max_trials=100)
    assert len({tuned(v) for v in trials}) == 24 == len(trials)


def test_grid_refuses_a_float_range_without_step():
    with pytest.raises(ConfigError, match="learning_rate"):
        create_oracle(
            "grid",
            objective=SCORE,
            max_trials=5,
            hyperparameters=build_space({"learning_rate": {"min": 1e-4, "max": 1e-1}}),
        )


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


@pytest.mark.parametrize(
    "options",
    [
        {"surrogate": "RF"},
        {"surrogate": "ET", "acquisition": "LCB"},
        {"surrogate": "GBRT", "acquisition": "PI"},
        {"acquisition": "gp_hedge", "initial_points": 3},
    ],
)
def test_bayesian_surrogates_and_acquisitions(options, tmp_path):
    oracle = create_oracle(
        "bayesian",
        objective=SCORE,
        hyperparameters=build_space(SPACE),
        max_trials=8,
        options=options,
    )
    set_project_dir(oracle, tmp_path, "engine")
    _, trials = drive("bayesian", tmp_path, oracle=oracle)
    assert len({tuned(v) for v in trials}) == 8


def test_bayesian_caps_the_gp_kernel_fit(tmp_path, monkeypatch):
    """The GP's kernel fit is most of a proposal's cost: it stops after GP_FIT_ITERATIONS
    L-BFGS iterations (scikit-learn's default runs to convergence, 70+ evaluations of the
    likelihood at 100 trials), and the dimensions are built once, not at every proposal."""
    from tuner.strategies import bayesian

    iterations = []
    fit = bayesian.fit_kernel

    def counted(objective, theta, bounds):
        calls = []

        def counting(t, eval_gradient=True):
            calls.append(1)
            return objective(t, eval_gradient)

        result = fit(counting, theta, bounds)
        iterations.append(len(calls))
        return result

    monkeypatch.setattr(bayesian, "GP_FIT_ITERATIONS", 3)
    monkeypatch.setattr(bayesian, "fit_kernel", counted)
    built = []
    dimension = bayesian.dimension
    monkeypatch.setattr(bayesian, "dimension", lambda h: built.append(h.name) or dimension(h))
    oracle, trials = drive("bayesian", tmp_path, max_trials=10)
    assert len(trials) == 10
    # 5 initial points, then a fit at every proposal; a fit of 3 iterations evaluates the
    # likelihood a few times each (the line search), never the dozens an uncapped fit does.
    assert len(iterations) >= 5 and max(iterations) <= 3 * 4
    assert sorted(built) == sorted(h.name for h in oracle._tuned())


def test_bayesian_proposals_run_blas_on_one_thread(tmp_path, monkeypatch):
    """A proposal's linear algebra (the kernel fit, the acquisition) runs on BLAS_THREADS
    threads: small matrices solved by several threads that wait on each other, on a shared
    machine, cost 2-3x the time of one. The limit is lifted after the proposal."""
    from threadpoolctl import threadpool_info

    from tuner.strategies import bayesian

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen = []
    tell = bayesian.SkoptOracle._tell_finished

    def spy(self):
        seen.append(blas_threads())
        return tell(self)

    monkeypatch.setattr(bayesian.SkoptOracle, "_tell_finished", spy)
    before = blas_threads()
    _, trials = drive("bayesian", tmp_path, max_trials=7)
    assert len(trials) == 7 and len(seen) == 7
    assert all(threads == {bayesian.BLAS_THREADS} for threads in seen)
    assert blas_threads() == before


def test_bayesian_survives_a_resume(tmp_path):
    oracle, first = drive("bayesian", tmp_path, max_trials=8)
    resumed = create_oracle(
        "bayesian", objective=SCORE, hyperparameters=build_space(SPACE), max_trials=14
    )
    set_project_dir(resumed, tmp_path, "engine")
    resumed.reload()
    _, more = drive("bayesian", tmp_path, oracle=resumed)
    assert len(more) == 6
    assert len({tuned(v) for v in first + more}) == 14
    assert len(resumed._optimizer.yi) == 14 - 1  # told all 8 old and 5 new before the last ask


@pytest.mark.parametrize(
    "options, message",
    [
        ({"surrogate": "SVM"}, "surrogate"),
        ({"acquisition": "UCB"}, "acquisition"),
        ({"initial_points": 0}, "initial_points"),
    ],
)
def test_bayesian_rejects_bad_options(options, message):
    with pytest.raises(ConfigError, match=message):
        SkoptOracle(objective=SCORE, max_trials=3, hyperparameters=build_space(SPACE), **options)


# -- the registry -----------------------------------------------------------------------------
built_with = []


def first_values_oracle(settings):
    """A test strategy's factory: random search, remembering what it was given."""
    built_with.append(settings)
    return kt.oracles.RandomSearchOracle(
        max_trials=settings.max_trials, **settings.oracle_arguments()
    )


def test_a_new_strategy_is_one_registry_entry(monkeypatch, tmp_path):
    entry = Strategy(
        "test_random",
        "random search under another name",
        options={"repeats": int},
        factory=f"{__name__}:first_values_oracle",
    )
    monkeypatch.setitem(registry.STRATEGIES, "test_random", entry)
    assert strategy_names()[-1] == "test_random" and get_strategy("test_random") is entry
    built_with.clear()
    oracle = create_oracle(
        "test_random",
        objective=SCORE,
        hyperparameters=build_space(SPACE),
        max_trials=4,
        seed=0,
        epochs=7,
        options={"repeats": 2},
    )
    assert [(s.max_trials, s.seed, s.epochs, dict(s.options)) for s in built_with] == [
        (4, 0, 7, {"repeats": 2})
    ]
    assert (oracle.seed, oracle.verbose) == (0, 0)  # create_oracle does this for every strategy
    set_project_dir(oracle, tmp_path, "engine")
    _, trials = drive("test_random", tmp_path, oracle=oracle)
    assert len(trials) == 4
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'repeat' \(did you mean 'repeats'\?\) "
        r"for strategy 'test_random'; accepted: repeats\.",
    ):
        create_oracle(
            "test_random",
            objective=SCORE,
            hyperparameters=build_space(SPACE),
            max_trials=4,
            options={"repeat": 2},
        )
    with pytest.raises(ValueError, match="module:function"):
        Strategy("broken", "", options={}, factory="first_values_oracle")


def test_options_and_traits_per_strategy():
    assert (
        strategy_names()
        == ("random", "grid", "bayesian", "hyperband", "tpe", "pbt", "evolution", "auto")
        == tuple(STRATEGIES)
    )
    assert {name: dict(s.options) for name, s in STRATEGIES.items()} == {
        "random": {},
        "grid": {},
        "bayesian": {
            "surrogate": str,
            "acquisition": str,
            "initial_points": int,
            "xi": (int, float),
            "kappa": (int, float),
            "candidates": int,
        },
        "hyperband": {"max_epochs": int, "factor": int, "iterations": int, "min_epochs": int},
        "tpe": {"initial_points": int, "multivariate": bool, "candidates": int},
        "pbt": {
            "population": int,
            "ready": int,
            "quantile": (int, float),
            "resample_probability": (int, float),
            "perturb": list,
            "explore": list,
        },
        "evolution": {
            "population": int,
            "sample": int,
            "mutations": int,
            "scale": (int, float),
            "resample": (int, float),
        },
        "auto": {},
    }
    assert [n for n, s in STRATEGIES.items() if s.trains_from_parent] == ["hyperband"]
    assert [n for n, s in STRATEGIES.items() if s.needs_stepped_ranges] == ["grid"]
    assert all(s.name == n and s.description for n, s in STRATEGIES.items())


def test_an_unknown_strategy_names_the_accepted_ones():
    message = (
        r"unknown strategy 'bayesain' \(did you mean 'bayesian'\?\); "
        r"accepted: random, grid, bayesian, hyperband, tpe, pbt, evolution, auto\."
    )
    with pytest.raises(ConfigError, match=message):
        get_strategy("bayesain")
    with pytest.raises(ConfigError, match=message):
        create_oracle("bayesain", objective=SCORE, hyperparameters=build_space(SPACE), max_trials=3)
    with pytest.raises(ConfigError, match=r"unknown strategy 'smac'; accepted: random"):
        get_strategy("smac")


@pytest.mark.parametrize(
    "strategy, options, message",
    [
        (
            "bayesian",
            {"surrogate": "SVM"},
            r"surrogate must be one of \['GP', 'RF', 'ET', 'GBRT'\], "
            r"but got 'SVM'",
        ),
        ("bayesian", {"acquisition": "UCB"}, "acquisition must be one of"),
        ("bayesian", {"initial_points": 0}, "initial_points must be at least 1, but got 0"),
        ("bayesian", {"candidates": 0}, "candidates must be at least 1, but got 0"),
        ("bayesian", {"xi": "big"}, r"\[strategy_options\] xi must be a number, but got str 'big'"),
        ("hyperband", {"factor": 1}, "factor must be at least 2, but got 1"),
        ("hyperband", {"factor": True}, "factor must be a number, but got True"),
        ("hyperband", {"max_epochs": 1}, "max_epochs must be at least 2, but got 1"),
        ("hyperband", {"min_epochs": 0}, "min_epochs must be at least 1, but got 0"),
        ("hyperband", {"iterations": 0}, "iterations must be at least 1, but got 0"),
        ("hyperband", {"min_epochs": 5, "max_epochs": 3}, "min_epochs must be at most max_epochs"),
        ("hyperband", {"facter": 3}, r"unknown key 'facter' \(did you mean 'factor'\?\)"),
        ("random", {"seed": 1}, "unknown key 'seed' for strategy 'random'; accepted: none"),
        ("tpe", {"initial_points": 0}, "initial_points must be at least 1, but got 0"),
        ("tpe", {"candidates": 0}, "candidates must be at least 1, but got 0"),
        ("tpe", {"multivariate": "yes"}, "multivariate must be a bool, but got str 'yes'"),
        ("evolution", {"population": 1}, "population must be at least 2, but got 1"),
        ("evolution", {"sample": 1}, "sample must be at least 2, but got 1"),
        ("evolution", {"mutations": 0}, "mutations must be at least 1, but got 0"),
        (
            "evolution",
            {"population": 4, "sample": 5},
            "sample must be at most population, but got sample=5, population=4",
        ),
        ("evolution", {"scale": 0}, r"scale must be in \(0, 1\] .*but got 0"),
        ("evolution", {"scale": 1.5}, r"scale must be in \(0, 1\]"),
        ("evolution", {"resample": -0.1}, r"resample must be a probability in \[0, 1\]"),
        ("evolution", {"populaton": 4}, r"unknown key 'populaton' \(did you mean 'population'\?\)"),
    ],
)
def test_options_are_checked_before_anything_is_built(strategy, options, message, monkeypatch):
    def not_built(self):
        raise AssertionError("the factory was loaded before the options were checked")

    monkeypatch.setattr(Strategy, "load_factory", not_built)
    with pytest.raises(ConfigError, match=message):
        create_oracle(
            strategy,
            objective=SCORE,
            hyperparameters=build_space(SPACE),
            max_trials=3,
            options=options,
        )


def test_hyperband_options_reach_the_oracle():
    oracle = create_oracle(
        "hyperband",
        objective=SCORE,
        hyperparameters=build_space(SPACE),
        max_trials=30,
        seed=0,
        epochs=9,
        options={"max_epochs": 27, "factor": 3, "min_epochs": 3, "iterations": 2},
    )
    assert (
        oracle.max_epochs,
        oracle.factor,
        oracle.min_epochs,
        oracle.hyperband_iterations,
        oracle.max_trials,
        oracle.seed,
    ) == (27, 3, 3, 2, 30, 0)
    default = create_oracle(
        "hyperband", objective=SCORE, hyperparameters=build_space(SPACE), max_trials=30, epochs=9
    )
    assert (default.max_epochs, default.factor, default.min_epochs) == (9, 3, 1)
    with pytest.raises(ConfigError, match="min_epochs must be at most max_epochs"):
        create_oracle(
            "hyperband",
            objective=SCORE,
            hyperparameters=build_space(SPACE),
            max_trials=30,
            epochs=9,
            options={"min_epochs": 10},
        )


def test_the_older_objective_name_and_direction_still_work():
    oracle = create_oracle(
        "random",
        objective="score",
        direction="max",
        hyperparameters=build_space(SPACE),
        max_trials=3,
    )
    assert (oracle.objective.name, oracle.objective.direction) == ("score", "max")
    with pytest.raises(ConfigError, match="direction must be 'min' or 'max', but got None"):
        create_oracle("random", objective="score", hyperparameters=build_space(SPACE), max_trials=3)


def test_importing_the_registry_leaves_keras_out():
    code = (
        "import sys, tuner.strategies.registry, tuner.strategies\n"
        "from tuner.strategies import STRATEGIES, create_oracle, get_strategy\n"
        "print(sorted(m for m in ('keras_tuner', 'keras', 'skopt', 'optuna', 'tensorflow') "
        "if m in sys.modules))"
    )
    root = str(__import__("pathlib").Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the registry imported {done.stdout.strip()}"


# --------------------------------------------------------------------------- batches


def drive_batched(strategy, tmp_path, k, space=SPACE, max_trials=12, seed=0, oracle=None):
    """As `drive`, but K trials are asked for (as the loop asks) before any of them ends."""
    from tuner.loop import ask_batch, batch_limit

    if oracle is None:
        oracle = new_oracle(strategy, tmp_path, space, max_trials, seed)
    batches = []
    while True:
        trials, _ = ask_batch(oracle, "chief", batch_limit(oracle, k))
        if not trials:
            break
        batches.append([dict(t.hyperparameters.values) for t in trials])
        for trial in trials:
            oracle.update_trial(
                trial.trial_id, {"score": synthetic_score(trial.hyperparameters.values)}
            )
            trial.status = trial_module.TrialStatus.COMPLETED
            end_trial(oracle, trial)
    return oracle, batches


@pytest.mark.parametrize("strategy", ["random", "grid"])
def test_batches_propose_the_same_trials_in_the_same_order(strategy, tmp_path):
    space = GRID_SPACE if strategy == "grid" else SPACE
    _, one = drive(strategy, tmp_path / "one", space=space, max_trials=11)
    _, batches = drive_batched(strategy, tmp_path / "k", 4, space=space, max_trials=11)
    assert [len(b) for b in batches] == [4, 4, 3]
    assert [v for b in batches for v in b] == one


def test_grid_walks_keras_tuners_order_and_resumes_where_it_stopped(tmp_path):
    theirs = kt.oracles.GridSearchOracle(
        objective=SCORE, hyperparameters=build_space(GRID_SPACE), max_trials=24
    )
    set_project_dir(theirs, tmp_path / "kt", "engine")
    _, expected = drive("grid", tmp_path, oracle=theirs)
    _, first = drive("grid", tmp_path / "ours", space=GRID_SPACE, max_trials=10)
    resumed = create_oracle(
        "grid", objective=SCORE, hyperparameters=build_space(GRID_SPACE), max_trials=24
    )
    set_project_dir(resumed, tmp_path / "ours", "engine")
    resumed.reload()
    _, more = drive("grid", tmp_path / "ours", oracle=resumed)
    assert first + more == expected and len(expected) == 24


def test_bayesian_batches_are_distinct_deterministic_and_told_every_result(tmp_path):
    options = {"initial_points": 3}
    runs = []
    for name in ("a", "b"):
        oracle = create_oracle(
            "bayesian",
            objective=SCORE,
            hyperparameters=build_space(SPACE),
            max_trials=13,
            options=options,
        )
        set_project_dir(oracle, tmp_path / name, "engine")
        runs.append(drive_batched("bayesian", tmp_path / name, 4, oracle=oracle))
    (oracle, batches), (_, again) = runs
    assert batches == again
    assert [len(b) for b in batches] == [4, 3, 3, 3]  # even sizes for the trials left
    proposed = [tuned(v) for b in batches for v in b]
    assert len(set(proposed)) == 13
    assert len(oracle._optimizer.yi) == 10  # every result but the last batch's (3), real ones only


def test_bayesian_batch_interrupted_before_it_ends_runs_again_on_resume(tmp_path):
    from tuner.loop import ask_batch

    oracle, _ = drive("bayesian", tmp_path, max_trials=6)
    grown = create_oracle(
        "bayesian", objective=SCORE, hyperparameters=build_space(SPACE), max_trials=12
    )
    set_project_dir(grown, tmp_path, "engine")
    grown.reload()
    handed, _ = ask_batch(grown, "chief", 4)  # then the process dies: none of them ends
    assert [t.trial_id for t in handed] == ["06", "07", "08", "09"]
    resumed = create_oracle(
        "bayesian", objective=SCORE, hyperparameters=build_space(SPACE), max_trials=12
    )
    set_project_dir(resumed, tmp_path, "engine")
    resumed.reload()
    resumed, batches = drive_batched("bayesian", tmp_path, 4, oracle=resumed)
    ran = [v for b in batches for v in b]
    assert len(ran) == 6  # the 4 handed out again, then 2 new
    assert len(resumed.end_order) == 12 and set(resumed.end_order) == set(resumed.trials)
    assert len({tuned(resumed.trials[t].hyperparameters.values) for t in resumed.trials}) == 12
    for trial in handed:
        assert resumed.trials[trial.trial_id].hyperparameters.values == dict(
            trial.hyperparameters.values
        )


def test_hyperband_batches_are_one_first_round_and_propose_what_one_at_a_time_does(tmp_path):
    _, one = drive("hyperband", tmp_path / "one", max_trials=30)
    _, batches = drive_batched("hyperband", tmp_path / "k", 8, max_trials=30)
    # One Hyperband iteration of 9 epochs, factor 3: the same 23 trials, one at a time or
    # batched; a batch is (up to 8 trials of) a bracket's first round, or one promotion.
    assert [v for b in batches for v in b] == one and len(one) == 23
    assert [len(b) for b in batches][:5] == [8, 1, 1, 1, 1]  # bracket 2: 9 random, 3 promoted
    for batch in batches:
        assert len(batch) == 1 or {(v["tuner/bracket"], v["tuner/round"]) for v in batch} == {
            (batch[0]["tuner/bracket"], 0)
        }
    ids_so_far = 0
    for batch in batches:
        ids = {f"{i:02d}" for i in range(ids_so_far, ids_so_far + len(batch))}
        ids_so_far += len(batch)
        parents = {v.get("tuner/trial_id") for v in batch} - {None}
        assert not parents & ids, "a promoted trial needs its parent finished first"
    promoted = [v for b in batches for v in b if v["tuner/round"] > 0]
    assert promoted


@pytest.mark.parametrize("strategy", ["random", "hyperband"])
def test_two_seeds_share_no_random_draw(strategy):
    """KerasTuner counts its random state up by one a value from the seed, so seed 2 replayed
    seed 0's draws one trial later in a two-entry space (99 of 100 trials shared)."""
    from tuner import Study

    space = {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}}
    options = {"max_epochs": 3} if strategy == "hyperband" else None
    drawn = []
    for seed in range(4):
        study = Study(space, strategy=strategy, seed=seed, max_trials=12, options=options)
        trials = study.ask_batch(6)
        drawn.append({round(t.values["x"], 12) for t in trials})
    for a in range(4):
        for b in range(a + 1, 4):
            assert not drawn[a] & drawn[b], (a, b)
