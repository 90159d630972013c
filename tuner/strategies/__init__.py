"""Search strategies: each turns a campaign's space into a KerasTuner `Oracle` that decides the
next trial. `create_oracle` is the one place a new strategy plugs in."""
from __future__ import annotations

from typing import Any

import keras_tuner as kt

from tuner.errors import ConfigError
from tuner.strategies.bayesian import SkoptOracle, bayesian_oracle
from tuner.strategies.keras_oracles import (common_arguments, grid_oracle, hyperband_oracle,
                                            random_oracle)

STRATEGIES = ("random", "grid", "bayesian", "hyperband")


def create_oracle(strategy: str, *, objective: str, direction: str,
                  hyperparameters: kt.HyperParameters, max_trials: int, seed: int = 0,
                  epochs: int = 20, options: dict[str, Any] | None = None,
                  max_consecutive_failures: int = 10) -> kt.Oracle:
    """The oracle for a strategy name, deterministic for a seed (``seed=0`` included)."""
    options = dict(options or {})
    common = common_arguments(kt.Objective(objective, direction), hyperparameters, seed,
                              max_consecutive_failures)
    if strategy == "random":
        oracle = random_oracle(common, max_trials, options)
    elif strategy == "grid":
        oracle = grid_oracle(common, max_trials, options)
    elif strategy == "bayesian":
        oracle = bayesian_oracle(common, max_trials, options)
    elif strategy == "hyperband":
        oracle = hyperband_oracle(common, max_trials, options, epochs)
    else:
        raise ConfigError(f"unknown strategy {strategy!r}; accepted: {', '.join(STRATEGIES)}.")
    oracle._display.verbose = 0  # the runner prints one line per trial instead
    return oracle


def end_trial(oracle: kt.Oracle, trial: kt.engine.trial.Trial) -> None:
    """End a trial and save the oracle's state once more.

    KerasTuner's `end_trial` saves the state *before* it removes the trial from the ongoing
    ones, so after a restart the last finished trial would be run (and counted) twice.
    """
    oracle.end_trial(trial)
    oracle.save()


__all__ = ["create_oracle", "end_trial", "STRATEGIES", "SkoptOracle"]
