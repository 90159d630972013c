"""The peers, each driven as its users drive it, on the same problems: Optuna's TPE
(multivariate, grouped) and random samplers (define-by-run, conditionals asked only where their
parent allows them), Optuna's GP sampler where PyTorch is importable, scikit-optimize's
``gp_minimize`` (a flat space: a conditional child is drawn always and ignored where its parent
is off) and KerasTuner's ``BayesianOptimizationOracle`` (its defaults)."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
from collections.abc import Callable
from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from benchmarks.strategy_suite.driver import SCORE, Run
from benchmarks.strategy_suite.problems import Problem
from tuner.builder_space import active_values
from tuner.space_kt import conditions_hold
from tuner.strategies import end_trial
from tuner.strategies.oracles_kt import fix_seed, silence


def torch_importable() -> bool:
    return importlib.util.find_spec("torch") is not None


# -- Optuna ------------------------------------------------------------------------------------
def _suggest(trial: Any, h: hp_module.HyperParameter) -> Any:
    if isinstance(h, hp_module.Boolean):
        return trial.suggest_categorical(h.name, [False, True])
    if isinstance(h, hp_module.Choice):
        return trial.suggest_categorical(h.name, list(h.values))
    if isinstance(h, hp_module.Int):
        return trial.suggest_int(h.name, h.min_value, h.max_value, step=h.step or 1)
    if h.step is not None:
        return trial.suggest_float(h.name, h.min_value, h.max_value, step=h.step)
    return trial.suggest_float(h.name, h.min_value, h.max_value, log=h.sampling == "log")


def suggest_space(trial: Any, hp: kt.HyperParameters) -> dict[str, Any]:
    """A trial's values, define-by-run: each entry asked only where its conditions hold."""
    chosen = kt.HyperParameters()
    values: dict[str, Any] = {}
    for h in hp.space:
        chosen.values = dict(values)
        if conditions_hold(chosen, h.conditions):
            values[h.name] = _suggest(trial, h)
    return values


def _optuna(make_sampler: Callable[[int], Any]) -> Callable[[Problem, int, int], Run]:
    def run(problem: Problem, seed: int, max_trials: int) -> Run:
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        study = optuna.create_study(sampler=make_sampler(seed), direction="minimize")
        hp, out = problem.space(), Run()
        for _ in range(max_trials):
            start = time.perf_counter()
            trial = study.ask()
            values = suggest_space(trial, hp)  # sampling happens in the suggest calls
            out.ask_seconds.append(time.perf_counter() - start)
            score = problem.score(values)
            study.tell(trial, score)
            out.values.append(values)
            out.scores.append(score)
        return out

    return run


def _tpe(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(multivariate=True, group=True, seed=seed)


def _gp(seed: int) -> Any:
    import optuna

    return optuna.samplers.GPSampler(seed=seed)


def _random(seed: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


# -- scikit-optimize gp_minimize ---------------------------------------------------------------
def _skopt_dimensions(hp: kt.HyperParameters) -> list[Any]:
    from skopt.space import Categorical, Real

    dims = []
    for h in hp.space:
        if isinstance(h, hp_module.Boolean):
            dims.append(Categorical([False, True], name=h.name))
        elif isinstance(h, hp_module.Choice):
            dims.append(Categorical(list(h.values), name=h.name))
        elif isinstance(h, hp_module.Int) or h.step is not None:
            dims.append(Categorical(list(h.values), name=h.name))
        else:
            prior = "log-uniform" if h.sampling == "log" else "uniform"
            dims.append(Real(h.min_value, h.max_value, prior=prior, name=h.name))
    return dims


def gp_minimize(problem: Problem, seed: int, max_trials: int) -> Run:
    """``skopt.gp_minimize`` with its defaults (10 initial points, gp_hedge) but
    ``acq_optimizer="sampling"`` over 1000 points: its default L-BFGS over 5 restarts took 5-10 s
    a proposal at 100 trials here, and sampling 10,000 points 192 s for 50 trials (the suite
    could not run); a proposal's time is the time between two calls of the objective."""
    import skopt

    hp, out = problem.space(), Run()
    names = [h.name for h in hp.space]
    last_end = [time.perf_counter()]

    def objective(point: list[Any]) -> float:
        out.ask_seconds.append(time.perf_counter() - last_end[0])
        raw = {n: (v.item() if isinstance(v, np.generic) else v) for n, v in zip(names, point)}
        values = active_values(hp, raw)
        score = problem.score(values)
        out.values.append(values)
        out.scores.append(score)
        last_end[0] = time.perf_counter()
        return score

    skopt.gp_minimize(
        objective,
        _skopt_dimensions(hp),
        n_calls=max_trials,
        random_state=seed,
        acq_optimizer="sampling",
        n_points=1000,
    )
    return out


# -- KerasTuner's BayesianOptimization ---------------------------------------------------------
def kerastuner_bo(problem: Problem, seed: int, max_trials: int) -> Run:
    """KerasTuner's BayesianOptimizationOracle (its defaults), asked and told as a Tuner does."""
    hp, out = problem.space(), Run()
    oracle = kt.oracles.BayesianOptimizationOracle(
        objective=SCORE, max_trials=max_trials, hyperparameters=hp, seed=seed
    )
    fix_seed(oracle, seed)  # KerasTuner replaces seed 0 by a random seed
    silence(oracle)
    with tempfile.TemporaryDirectory() as folder:
        oracle._set_project_dir(folder, "engine")
        while True:
            start = time.perf_counter()
            trial = oracle.create_trial("chief")
            if trial.status != trial_module.TrialStatus.RUNNING:
                return out
            out.ask_seconds.append(time.perf_counter() - start)
            values = active_values(hp, trial.hyperparameters.values)
            score = problem.score(values)
            out.values.append(values)
            out.scores.append(score)
            oracle.update_trial(trial.trial_id, {"score": score})
            trial.status = trial_module.TrialStatus.COMPLETED
            end_trial(oracle, trial)


PEERS: dict[str, Callable[[Problem, int, int], Run]] = {
    "optuna-tpe": _optuna(_tpe),
    "optuna-gp": _optuna(_gp),
    "skopt-gp_minimize": gp_minimize,
    "kerastuner-bo": kerastuner_bo,
    "optuna-random": _optuna(_random),
}


def unavailable(peer: str) -> str | None:
    """Why a peer cannot run here (None when it can)."""
    if peer == "optuna-gp" and not torch_importable():
        return "not installable/too heavy (needs PyTorch, not in the venv)"
    return None
