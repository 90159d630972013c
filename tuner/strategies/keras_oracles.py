"""Random, grid and Hyperband search on KerasTuner's own oracles, with their sharp edges filed
off. Each function is a registry factory: called by `create_oracle` with checked settings."""

from __future__ import annotations

import keras_tuner as kt

from tuner.errors import ConfigError
from tuner.space import grid_size
from tuner.strategies.registry import OracleSettings, check_epoch_range


def random_oracle(settings: OracleSettings) -> kt.Oracle:
    return kt.oracles.RandomSearchOracle(
        max_trials=settings.max_trials, **settings.oracle_arguments()
    )


def grid_oracle(settings: OracleSettings) -> kt.Oracle:
    size = grid_size(settings.hyperparameters)
    if size is None:
        ranges = [
            h.name
            for h in settings.hyperparameters.space
            if isinstance(h, kt.engine.hyperparameters.Float) and h.step is None
        ]
        raise ConfigError(
            f"grid search needs a step on every float range; {', '.join(ranges)} "
            "has none (add step = ..., or give a list of values)."
        )
    oracle = kt.oracles.GridSearchOracle(
        max_trials=min(settings.max_trials, size), **settings.oracle_arguments()
    )
    oracle.grid_size = size
    return oracle


def hyperband_oracle(settings: OracleSettings) -> kt.Oracle:
    options = settings.options
    max_epochs = options.get("max_epochs", settings.epochs)
    if max_epochs < 2:
        raise ConfigError(
            f"[strategy_options] max_epochs must be at least 2, but got {max_epochs}."
        )
    min_epochs = options.get("min_epochs", 1)
    check_epoch_range(min_epochs, max_epochs)
    oracle = kt.oracles.HyperbandOracle(
        max_epochs=max_epochs,
        factor=options.get("factor", 3),
        hyperband_iterations=options.get("iterations", 1),
        **settings.oracle_arguments(),
    )
    oracle.min_epochs = min_epochs
    oracle.max_trials = settings.max_trials
    return oracle
