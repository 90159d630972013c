"""Random, grid and Hyperband search on KerasTuner's own oracles, with their sharp edges filed off."""
from __future__ import annotations

from typing import Any

import keras_tuner as kt

from tuner.errors import ConfigError
from tuner.space import grid_size


def fix_seed(oracle: kt.Oracle, seed: int) -> kt.Oracle:
    """KerasTuner replaces ``seed=0`` with a random seed (``seed or randint``): put it back."""
    oracle.seed = seed
    oracle._seed_state = seed
    return oracle


def common_arguments(objective: kt.Objective, hyperparameters: kt.HyperParameters,
                     seed: int, max_consecutive_failures: int) -> dict[str, Any]:
    """Arguments every oracle takes. Only the campaign's ``[space]`` is tuned: hyperparameters
    the builder declares but the campaign does not name keep their defaults."""
    return dict(objective=objective, hyperparameters=hyperparameters, seed=seed,
                tune_new_entries=False, allow_new_entries=True,
                max_consecutive_failed_trials=max_consecutive_failures)


def random_oracle(common: dict[str, Any], max_trials: int, options: dict[str, Any]) -> kt.Oracle:
    return fix_seed(kt.oracles.RandomSearchOracle(max_trials=max_trials, **common), common["seed"])


def grid_oracle(common: dict[str, Any], max_trials: int, options: dict[str, Any]) -> kt.Oracle:
    size = grid_size(common["hyperparameters"])
    if size is None:
        ranges = [h.name for h in common["hyperparameters"].space
                  if isinstance(h, kt.engine.hyperparameters.Float) and h.step is None]
        raise ConfigError(f"grid search needs a step on every float range; {', '.join(ranges)} "
                          "has none (add step = ..., or give a list of values).")
    oracle = kt.oracles.GridSearchOracle(max_trials=min(max_trials, size), **common)
    oracle.grid_size = size
    return fix_seed(oracle, common["seed"])


def hyperband_oracle(common: dict[str, Any], max_trials: int, options: dict[str, Any],
                     epochs: int) -> kt.Oracle:
    max_epochs = options.get("max_epochs", epochs)
    factor = options.get("factor", 3)
    if factor < 2:
        raise ConfigError(f"[strategy_options] factor must be at least 2, but got {factor}.")
    if max_epochs < 2:
        raise ConfigError(f"[strategy_options] max_epochs must be at least 2, but got {max_epochs}.")
    oracle = kt.oracles.HyperbandOracle(max_epochs=max_epochs, factor=factor,
                                        hyperband_iterations=options.get("iterations", 1),
                                        **common)
    oracle.min_epochs = options.get("min_epochs", 1)
    oracle.max_trials = max_trials
    return fix_seed(oracle, common["seed"])
